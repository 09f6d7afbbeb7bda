"""Regenerate examples/evidence/: a small, made-up but realistic evidence folder.

Run from the repository root: python examples/make_evidence.py
Needs Pillow and ffmpeg (development only; custody itself needs neither).
Everything here is synthetic: the people, places and messages are invented.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).parent / "evidence"
KYIV = timezone(timedelta(hours=2))


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60, 2)
    return (Fraction(d), Fraction(m), Fraction(s).limit_denominator(100))


def photo(
    path: Path, *, when: datetime, lat: float, lon: float, alt: float, model: str, hue: int
) -> None:
    img = Image.new("RGB", (320, 240))
    draw = ImageDraw.Draw(img)
    for x in range(320):
        draw.line([(x, 0), (x, 239)], fill=((x + hue) % 256, (hue * 3) % 256, 255 - x % 256))
    draw.rectangle([100, 80, 220, 160], outline=(255, 255, 255), width=3)
    exif = Image.Exif()
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = model  # Model
    exif[0x0131] = "G991BXXU5CVJB"  # Software
    exif[0x0112] = 1  # Orientation
    exif[0x0132] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    sub[0x9011] = "+02:00"  # OffsetTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = dms(lat)
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = dms(lon)
    gps[5] = b"\x00"
    gps[6] = Fraction(alt).limit_denominator(10)
    img.save(path, "JPEG", quality=70, exif=exif.tobytes())
    os.utime(path, (when.timestamp(), when.timestamp()))


def video(path: Path, when: datetime) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "veryslow",
            "-crf",
            "40",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "16k",
            "-metadata",
            f"creation_time={when.astimezone(UTC).isoformat()}",
            "-metadata",
            "location=+50.4470+030.5220/",
            "-movflags",
            "+faststart+use_metadata_tags",
            str(path),
        ],
        check=True,
    )
    os.utime(path, (when.timestamp(), when.timestamp()))


def chat(folder: Path) -> None:
    folder.mkdir()
    lines = [
        "[25/02/2022, 13:58:02] Olena K.: Are you safe? They say the bridge is closed",
        "[25/02/2022, 14:01:47] Andrii M.: We are in the basement. Sending what I saw",
        "[25/02/2022, 14:03:15] Andrii M.: "
        "\u200e<attached: 00000012-PHOTO-2022-02-25-14-03-10.jpg>",
        "[25/02/2022, 14:05:40] Olena K.: Oh god. Where exactly?",
        "[25/02/2022, 14:06:02] Andrii M.: Near the school on Shevchenka street",
        "[25/02/2022, 14:16:30] Andrii M.: "
        "\u200e<attached: 00000013-VIDEO-2022-02-25-14-15-00.mp4>",
        "[25/02/2022, 14:20:11] Olena K.: Keep the originals. Do not edit anything.",
    ]
    (folder / "_chat.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    when = datetime(2022, 2, 25, 14, 20, 11, tzinfo=KYIV)
    os.utime(folder / "_chat.txt", (when.timestamp(), when.timestamp()))


def email(path: Path, attachment: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "Andrii Melnyk <andrii.m@example.org>"
    msg["To"] = "Documentation Unit <evidence@example.net>"
    msg["Date"] = format_datetime(datetime(2022, 2, 26, 9, 12, 0, tzinfo=KYIV))
    msg["Subject"] = "Фото з вулиці Шевченка (photos from Shevchenka street)"
    msg["Message-ID"] = "<20220226091200.4411@example.org>"
    msg.set_content(
        "Hello,\n\nAttached is the photo I took on 25 February near the school.\n"
        "I have the original phone.\n\nAndrii\n"
    )
    msg.add_attachment(
        attachment.read_bytes(), maintype="image", subtype="jpeg", filename=attachment.name
    )
    path.write_bytes(bytes(msg))
    when = datetime(2022, 2, 26, 9, 12, 0, tzinfo=KYIV)
    os.utime(path, (when.timestamp(), when.timestamp()))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    t1 = datetime(2022, 2, 25, 14, 3, 10, tzinfo=KYIV)
    t2 = datetime(2022, 2, 25, 14, 9, 55, tzinfo=KYIV)
    photo(
        OUT / "IMG_20220225_140310.jpg",
        when=t1,
        lat=50.44702,
        lon=30.52205,
        alt=179.0,
        model="SM-G991B",
        hue=40,
    )
    photo(
        OUT / "IMG_20220225_140955.jpg",
        when=t2,
        lat=50.44751,
        lon=30.52388,
        alt=181.5,
        model="SM-G991B",
        hue=160,
    )
    video(OUT / "VID_20220225_141500.mp4", datetime(2022, 2, 25, 14, 15, 0, tzinfo=KYIV))
    chat_dir = OUT / "WhatsApp Chat - Olena K"
    chat(chat_dir)
    attached = chat_dir / "00000012-PHOTO-2022-02-25-14-03-10.jpg"
    attached.write_bytes((OUT / "IMG_20220225_140310.jpg").read_bytes())
    os.utime(attached, (t1.timestamp(), t1.timestamp()))
    email(OUT / "photos from Shevchenka street.eml", OUT / "IMG_20220225_140955.jpg")


if __name__ == "__main__":
    main()
