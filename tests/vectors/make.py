"""Build the shared test vectors: one folder per case, each a bundle (a folder
`bundle/`, or `bundle.zip` / `bundle.tar.gz`), the verifier's trust choices
(`policy.json` and the key, register and TSA root files it names) and
`expected.json`, what every verifier must report (docs/adr/0023).

    python tests/vectors/make.py                 # rebuild tests/vectors/ in place
    python tests/vectors/make.py --out DIR       # build into DIR (the tests compare)
    python tests/vectors/make.py --only NAME ... # rebuild these cases only

Every bundle is made by the real custody CLI (keygen, ingest, transfer, receive,
authority, timestamp) with the officers' keys committed in keys/, then damaged
precisely. Each case states the problems it must give; the case is written only
when `custody verify --json` gives exactly those, so expected.json is an oracle
written by hand and checked, never custody's output copied.

What regenerating keeps and what it does not: expected.json and policy.json are
the same bytes every time; a bundle's bytes are not (its bundle_id is random,
its times are the clock's, the unit key and the TSA keys are new each run), so
the committed bundles change on every rebuild and are committed as rebuilt.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from custody.cli import cli

HERE = Path(__file__).resolve().parent
KEYS = HERE / "keys"
PASSPHRASE = "correct horse battery staple"
OFFICER = "PC Jane Smith, War Crimes Team"
RECEIVER = "Ali Hassan, ICC Registry"
STRANGER = "Someone Else"
# Problems are compared as (kind, path) pairs: a detail names digests and
# times that differ from one build to the next, and its wording is each
# verifier's own.
Pair = tuple[str, "str | None"]


# --- running custody ------------------------------------------------------------------


@dataclass
class Home:
    """One person's $CUSTODY_HOME, and the real CLI run in it."""

    path: Path

    def run(self, *args: str | os.PathLike[str], ok: bool = True) -> tuple[int, str]:
        env: dict[str, str | None] = {
            "CUSTODY_HOME": str(self.path),
            "CUSTODY_PASSPHRASE": PASSPHRASE,
            "CUSTODY_KEY": None,
            "CUSTODY_TSA": None,
            "CUSTODY_WITNESS": None,
        }
        result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
        if ok and result.exit_code != 0:
            raise RuntimeError(f"custody {' '.join(map(str, args))}: {result.output}")
        return result.exit_code, result.stdout

    def json(self, *args: str | os.PathLike[str]) -> dict[str, Any]:
        _, out = self.run(*args, "--json")
        data: dict[str, Any] = json.loads(out)
        return data


def person(root: Path, slug: str, name: str) -> tuple[Home, Path, str]:
    """A home whose key is the committed test key keys/<slug>.key (made and
    committed on first use). Returns the home, the public key file and its
    fingerprint."""
    home = Home(root / slug)
    made = home.json("keygen", "--name", name)
    key, pub = KEYS / f"{slug}.key", KEYS / f"{slug}.pub"
    if not key.exists():
        KEYS.mkdir(exist_ok=True)
        shutil.copyfile(made["private_key"], key)
        shutil.copyfile(made["public_key"], pub)
        return home, pub, str(made["fingerprint"])
    shutil.copyfile(key, made["private_key"])
    shutil.copyfile(pub, made["public_key"])
    return home, pub, str(home.json("keys", "trust", pub)["fingerprint"])


# --- the policy and the stable parts of a report ----------------------------------------


def custody_args(case: Path) -> list[str]:
    """`custody verify` arguments for a case: its bundle and its policy.json."""
    policy = json.loads((case / "policy.json").read_text())
    args = [str(bundle_of(case)), "--json", "--no-trust-store"]
    for key in policy["keys"]:
        args += ["--trust", str(case / key)]
    for fp in policy["fingerprints"]:
        args += ["--trust", fp]
    for register in policy["registers"]:
        args += ["--register", str(case / register)]
    for root in policy["tsa_roots"]:
        args += ["--tsa-root", str(case / root)]
    for witness in policy["witness_keys"]:
        args += ["--witness-key", str(case / witness)]
    if policy["quorum"]:
        args += ["--quorum", str(policy["quorum"])]
    if policy["require_timestamp"]:
        args.append("--require-timestamp")
    if policy["require_closed_chain"]:
        args.append("--require-closed-chain")
    return args


def bundle_of(case: Path) -> Path:
    """The case's bundle: bundle/, bundle.zip or bundle.tar.gz."""
    for name in ("bundle", "bundle.zip", "bundle.tar.gz"):
        if (case / name).exists():
            return case / name
    raise FileNotFoundError(f"{case}: no bundle, bundle.zip or bundle.tar.gz")


def stable(report: dict[str, Any], exit_code: int) -> dict[str, Any]:
    """What every verifier must agree on, from a `custody verify --json` report
    (or the page's): the verdict, and each problem's kind and path."""
    if "error" in report:
        return {"exit_code": exit_code, "error": report["error"]["message"]}
    return {
        "exit_code": exit_code,
        "verified": report["verified"],
        "problems": pairs(report["problems"]),
        "os_leftovers": sorted(p["path"] for p in report["os_leftovers"]),
        "open_handover": report["open_handover"] is not None,
        "signer": {
            "trusted": report["signer"]["trusted"],
            "signature_valid": report["signer"]["signature_valid"],
        },
    }


def pairs(problems: Iterable[dict[str, Any]]) -> list[list[str | None]]:
    unique = {(p["kind"], p["path"]) for p in problems}
    return [list(p) for p in sorted(unique, key=lambda p: (p[0], p[1] or ""))]


def verify(case: Path) -> dict[str, Any]:
    """custody's stable report for a case, through the real CLI."""
    code, out = Home(case / ".home").run("verify", *custody_args(case), ok=False)
    shutil.rmtree(case / ".home", ignore_errors=True)
    return stable(json.loads(out), code)


# --- the cases -------------------------------------------------------------------------


@dataclass
class Case:
    """One vector: how to make it and what every verifier must say of it."""

    name: str
    description: str
    make: Callable[[Maker, Path], None]
    problems: Sequence[Pair] = ()
    exit_code: int | None = None
    error: str | None = None
    trust: Sequence[str] = ("officer",)
    by_fingerprint: bool = False
    registers: Sequence[str] = ()
    tsa_roots: Sequence[str] = ()
    require_timestamp: bool = False
    require_closed_chain: bool = False
    quorum: int = 0
    """Cosignatures required from the case's witness.pub (a new witness each build)."""
    os_leftovers: Sequence[str] = ()
    open_handover: bool = False
    trusted: bool = True
    signature_valid: bool = True
    custody_only: str | None = None
    """Why the page cannot judge this case (it is then run by custody alone)."""
    page_error: str | None = None
    """The page's refusal, where its wording differs by design (it reads no tar)."""


class Maker:
    """Everything the cases share: the people, one pristine bundle, the unit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.officer, self.officer_pub, self.officer_fingerprint = person(work, "officer", OFFICER)
        self.receiver, self.receiver_pub, _ = person(work, "receiver", RECEIVER)
        self.stranger_pub = person(work, "stranger", STRANGER)[1]
        self.pristine = self.ingest(evidence(work / "evidence"), work / "pristine")
        self._handed: Path | None = None
        self._tsa: Any = None
        self._tsa_server: Any = None
        self._witnessed: tuple[Path, Path] | None = None

    def tsa(self) -> Any:
        """The test TSA (tests/tsa_server.py), its certificates valid 2025 to 2099."""
        if self._tsa is None:
            sys.path.insert(0, str(HERE.parent))
            from datetime import UTC, datetime

            from tsa_server import TsaServer, make_tsa

            self._tsa_server = TsaServer(self.work / "tsa")
            self._tsa = make_tsa(
                self.work / "tsa" / "test",
                "Test TSA",
                valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                valid_until=datetime(2099, 1, 1, tzinfo=UTC),
            )
        return self._tsa

    def tsa_url(self, tsa: Any, at: Any) -> str:
        return str(self._tsa_server.url(tsa, at=at))

    def close(self) -> None:
        if self._tsa_server is not None:
            self._tsa_server.stop()

    def witnessed(self, target: Path) -> tuple[Path, Path]:
        """The pristine bundle with its ledger proof stapled to a checkpoint
        cosigned by a witness (`custody witness serve`, tests/witness_server.py,
        stopped at once); returns the bundle and the witness's public key."""
        if self._witnessed is None:
            sys.path.insert(0, str(HERE.parent))
            from witness_server import start_witness

            home = Home(self.work / "witness")
            made = home.json("witness", "init", "--name", "witness.test/vectors")
            origin = self.officer.run("ledger", "checkpoint")[1].splitlines()[0]
            home.run("witness", "add-log", origin, "--key", self.officer_pub)
            bundle = self.copy(self.work / "witnessed")
            server = start_witness(home.path, self.work / "witness.log")
            try:
                self.officer.run("ledger", "witness", "--witness", server.url)
            finally:
                server.stop()
            self.officer.run("ledger", "staple", bundle)
            self._witnessed = (bundle, Path(made["public_key"]))
        bundle, pub = self._witnessed
        shutil.copytree(bundle, target)
        return target, pub

    def ingest(self, source: Path, out: Path) -> Path:
        self.officer.json(
            "ingest", source, "--case", "ICC-2026-014", "--exhibit", "JS/1", "--out", out
        )
        return out

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.pristine, target)
        return target

    def handed_over(self, target: Path) -> Path:
        """The pristine bundle handed by the officer to the receiver (open)."""
        if self._handed is None:
            self._handed = self.copy(self.work / "handed")
            self.officer.run(
                "transfer", self._handed, "--to", self.receiver_pub, "--reason", "To the registry"
            )
        shutil.copytree(self._handed, target)
        return target

    def register(self, out: Path, *adds: Sequence[str], revoke: Sequence[str] = ()) -> None:
        """A unit key register (a new unit each time) certifying keys as given:
        each of `adds` is (public key file, valid from, valid until)."""
        unit = Home(self.work / f"unit-{out.parent.name}")
        unit.json("authority", "init", "--name", "Test Unit")
        for pub, start, end in adds:
            unit.json("authority", "add", pub, "--valid-from", start, "--valid-until", end)
        if revoke:
            unit.json("authority", "revoke", *revoke)
        unit.json("authority", "export", "-o", out)


def evidence(root: Path) -> Path:
    """A small source folder: a note, an empty file, a file in a subfolder."""
    (root / "photos").mkdir(parents=True)
    (root / "note.txt").write_bytes(b"Statement of PC Jane Smith, taken at the scene.\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "photos" / "IMG_0001.bin").write_bytes(bytes(range(256)))
    return root


def edit(path: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def do(bundle: Path) -> None:
        (bundle / path).write_bytes(change((bundle / path).read_bytes()))

    return do


def refresh_tag_manifest(bundle: Path) -> None:
    """Recompute tagmanifest-sha256.txt as a careful forger would."""
    lines = []
    for line in (bundle / "tagmanifest-sha256.txt").read_text().splitlines():
        name = line[66:]
        if (bundle / name).exists():
            lines.append(hashlib.sha256((bundle / name).read_bytes()).hexdigest() + "  " + name)
    (bundle / "tagmanifest-sha256.txt").write_text("\n".join(lines) + "\n")


def then_refresh(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def do(bundle: Path) -> None:
        for change in changes:
            change(bundle)
        refresh_tag_manifest(bundle)

    return do


def flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def tampered(*changes: Callable[[Path], None]) -> Callable[[Maker, Path], None]:
    """A copy of the pristine bundle, then `changes` to it."""

    def make(m: Maker, case: Path) -> None:
        bundle = m.copy(case / "bundle")
        for change in changes:
            change(bundle)

    return make


# --- archives --------------------------------------------------------------------------

EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_members(folder: Path, top: str | None = "bundle") -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            out.append((f"{top}/{rel}" if top else rel, p.read_bytes()))
    return out


def write_zip(target: Path, members: Iterable[tuple[str, bytes]]) -> None:
    """A zip with fixed times, stored (so a damaged byte stays where it was put)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, EPOCH), data)
    target.write_bytes(buffer.getvalue())


def zipped(
    change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]] = lambda m: m,
    *,
    top: str | None = "bundle",
) -> Callable[[Maker, Path], None]:
    def make(m: Maker, case: Path) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate names we ask for
            write_zip(case / "bundle.zip", change(zip_members(m.pristine, top)))

    return make


def zip_symlink(m: Maker, case: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in zip_members(m.pristine):
            zf.writestr(zipfile.ZipInfo(name, EPOCH), data)
        link = zipfile.ZipInfo("bundle/data/link.txt", EPOCH)
        link.external_attr = (0o120777 << 16) | 0
        link.create_system = 3
        zf.writestr(link, "../../../etc/passwd")
    (case / "bundle.zip").write_bytes(buffer.getvalue())


def zip_bad_crc(m: Maker, case: Path) -> None:
    zipped()(m, case)
    data = bytearray((case / "bundle.zip").read_bytes())
    at = data.find(b"Statement of PC Jane Smith")
    data[at] ^= 1
    (case / "bundle.zip").write_bytes(bytes(data))


def zip_prepended(m: Maker, case: Path) -> None:
    zipped()(m, case)
    stub = bytes(64)
    (case / "bundle.zip").write_bytes(_shift_zip(zipfile.ZipFile(case / "bundle.zip"), stub))


def zip_polyglot(m: Maker, case: Path) -> None:
    """A tar header (a decoy file) then a zip of the bundle: a tar reader and a
    zip reader would show different things."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        decoy = b"a different bundle\n"
        info = tarfile.TarInfo("bundle/data/decoy.txt")
        info.size, info.mtime = len(decoy), 0
        tf.addfile(info, io.BytesIO(decoy))
    zipped()(m, case)
    (case / "bundle.zip").write_bytes(
        _shift_zip(zipfile.ZipFile(case / "bundle.zip"), buffer.getvalue()[:1024])
    )


def _shift_zip(src: zipfile.ZipFile, prefix: bytes) -> bytes:
    """`prefix`, then the members of `src` as a zip whose offsets count from
    the start of the file, so that zip readers still find every member."""
    out = io.BytesIO()
    out.write(prefix)
    with src, zipfile.ZipFile(out, "a") as zf:
        for info in src.infolist():
            zf.writestr(zipfile.ZipInfo(info.filename, EPOCH), src.read(info))
    return out.getvalue()


def zip_encrypted_member(m: Maker, case: Path) -> None:
    """A member flagged as encrypted (general purpose bit 0) in both its
    headers (zipfile will not write the flag itself)."""
    zipped()(m, case)
    data = bytearray((case / "bundle.zip").read_bytes())
    name = b"bundle/data/note.txt"
    with zipfile.ZipFile(case / "bundle.zip") as zf:
        local = zf.getinfo(name.decode()).header_offset
    data[local + 6] |= 0x1
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 8] |= 0x1
    (case / "bundle.zip").write_bytes(bytes(data))


def zip_truncated(m: Maker, case: Path) -> None:
    zipped()(m, case)
    data = (case / "bundle.zip").read_bytes()
    (case / "bundle.zip").write_bytes(data[: len(data) // 2])


def not_a_zip(m: Maker, case: Path) -> None:
    (case / "bundle.zip").write_bytes(b"This is a letter, not an archive.\n" * 4)


APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(10)


def write_tar(
    change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]] = lambda m: m,
    cut: bool = False,
) -> Callable[[Maker, Path], None]:
    """A gzipped tar of the bundle folder, with fixed times; `cut`: the tar
    ends ten bytes before its last member's data does."""

    def make(m: Maker, case: Path) -> None:
        import gzip

        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            for name, data in change(zip_members(m.pristine)):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                tf.addfile(info, io.BytesIO(data))
        tar = buffer.getvalue()
        if cut:
            with tarfile.open(fileobj=io.BytesIO(tar)) as again:
                last = again.getmembers()[-1]
            tar = tar[: last.offset_data + last.size - 10]
        (case / "bundle.tar.gz").write_bytes(gzip.compress(tar, mtime=0))

    return make


# --- cases needing more than an edit ----------------------------------------------------


def leftovers(m: Maker, case: Path) -> None:
    """What a Mac adds when it shows the bundle: a .DS_Store (its Bud1 header)
    and an AppleDouble file beside a payload file."""
    bundle = m.copy(case / "bundle")
    (bundle / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(24))
    (bundle / "data" / "._note.txt").write_bytes(APPLEDOUBLE)


def names_bundle(m: Maker, out: Path) -> Path:
    source = m.work / "names-evidence"
    if not source.exists():
        source.mkdir()
        (source / "100% done.txt").write_bytes(b"a name a manifest cannot hold as itself\n")
        (source / "plain.txt").write_bytes(b"plain\n")
        m.ingest(source, m.work / "names-pristine")
    shutil.copytree(m.work / "names-pristine", out)
    return out


def names_case(*changes: Callable[[Path], None]) -> Callable[[Maker, Path], None]:
    def make(m: Maker, case: Path) -> None:
        bundle = names_bundle(m, case / "bundle")
        assert (bundle / "custody/names.json").exists(), "ingest kept the name"
        for change in changes:
            change(bundle)

    return make


def handover(*changes: Callable[[Path], None]) -> Callable[[Maker, Path], None]:
    def make(m: Maker, case: Path) -> None:
        bundle = m.handed_over(case / "bundle")
        for change in changes:
            change(bundle)

    return make


def received(m: Maker, case: Path) -> None:
    bundle = m.handed_over(case / "bundle")
    m.receiver.run("receive", bundle, "--trust", m.officer_pub)


def with_register(
    *adds: tuple[str, str, str], revoke: Sequence[str] = ()
) -> Callable[[Maker, Path], None]:
    def make(m: Maker, case: Path) -> None:
        m.copy(case / "bundle")
        people = {"officer": m.officer_pub, "receiver": m.receiver_pub}
        m.register(
            case / "register.json",
            *[(str(people[who]), start, end) for who, start, end in adds],
            revoke=[m.officer_fingerprint if r == "officer" else r for r in revoke],
        )

    return make


def not_a_bundle(m: Maker, case: Path) -> None:
    bundle = m.copy(case / "bundle")
    (bundle / "bagit.txt").unlink()
    for name in ("bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        (bundle / name).unlink()
    shutil.rmtree(bundle / "custody")


def _relist(bundle: Path, path: str) -> None:
    digest = hashlib.sha256((bundle / path).read_bytes()).hexdigest()
    lines = []
    for line in (bundle / MANIFEST).read_text().splitlines():
        lines.append(f"{digest}  {path}" if line.endswith(f"  {path}") else line)
    (bundle / MANIFEST).write_text("\n".join(lines) + "\n")


def _oxum(data: bytes, value: str | None) -> bytes:
    out = []
    for line in data.decode().splitlines(keepends=True):
        if line.startswith("Payload-Oxum:"):
            if value is None:
                continue
            line = f"Payload-Oxum: {value}\n"
        out.append(line)
    return "".join(out).encode()


def _forge_proof(data: bytes) -> bytes:
    """One character of the inclusion path's first hash changed, the file
    otherwise exactly as custody writes it."""
    found = re.search(rb'"inclusion_proof": \[\n\s*"(.)', data)
    assert found is not None, "the proof has an inclusion path"
    at = found.start(1)
    return data[:at] + (b"B" if data[at : at + 1] == b"A" else b"A") + data[at + 1 :]


def relist_tags(bundle: Path, add: Sequence[str] = ()) -> None:
    """Rewrite the tag manifest as custody writes it (sorted, LF) over the
    files it lists that still exist, and `add`."""
    names = {line[66:] for line in (bundle / TAGS).read_text().splitlines()} | set(add)
    present = sorted((n for n in names if (bundle / n).is_file()), key=lambda n: n.encode())
    (bundle / TAGS).write_text(
        "".join(f"{hashlib.sha256((bundle / n).read_bytes()).hexdigest()}  {n}\n" for n in present)
    )


def unwitnessed(m: Maker, case: Path) -> None:
    """The pristine bundle, and a witness (a new key) that never cosigned its checkpoint."""
    m.copy(case / "bundle")
    witness = Home(m.work / f"witness-{case.name}")
    made = witness.json("witness", "init", "--name", "witness.test/vectors")
    shutil.copyfile(made["public_key"], case / "witness.pub")


def cosigned(*changes: Callable[[Path], None]) -> Callable[[Maker, Path], None]:
    def make(m: Maker, case: Path) -> None:
        bundle, pub = m.witnessed(case / "bundle")
        shutil.copyfile(pub, case / "witness.pub")
        for change in changes:
            change(bundle)

    return make


def _damage_cosignature(data: bytes) -> bytes:
    """One character in the middle of the witness's signature line changed."""
    doc = json.loads(data)
    lines = doc["checkpoint"].split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("— witness.test/vectors "))
    line = lines[at]
    middle = len(line) - 20
    lines[at] = line[:middle] + ("A" if line[middle] != "A" else "B") + line[middle + 1 :]

    def spelled(text: str) -> bytes:
        return json.dumps(text, ensure_ascii=False).encode()

    assert spelled(doc["checkpoint"]) in data, "the proof spells its checkpoint as JSON does"
    return data.replace(spelled(doc["checkpoint"]), spelled("\n".join(lines)))


def names_unsigned(m: Maker, case: Path) -> None:
    """The pristine bundle given a names file its statement does not sign."""
    bundle = m.copy(case / "bundle")
    names = names_bundle(m, m.work / f"names-{case.name}") / "custody/names.json"
    shutil.copyfile(names, bundle / "custody/names.json")
    relist_tags(bundle, ["custody/names.json"])


def receipt_without_transfer(m: Maker, case: Path) -> None:
    received(m, case)
    bundle = case / "bundle"
    for name in ("0001-transfer.json", "0001-transfer.sig"):
        (bundle / "custody/chain" / name).unlink()
    relist_tags(bundle)


def stamped(
    at: str | None = None, *changes: Callable[[Path], None]
) -> Callable[[Maker, Path], None]:
    """The pristine bundle with a token from the test TSA (tests/tsa_server.py,
    a real `openssl ts -reply` over HTTP) added by `custody timestamp`; its root
    is the case's tsa-root.pem. `at`: the token's genTime (under libfaketime)."""

    def make(m: Maker, case: Path) -> None:
        bundle = m.copy(case / "bundle")
        tsa = m.tsa()
        when = None
        if at is not None:
            from datetime import UTC, datetime

            when = datetime.fromisoformat(at).replace(tzinfo=UTC)
        m.officer.run("timestamp", bundle, "--tsa", m.tsa_url(tsa, when))
        shutil.copyfile(tsa.root_pem, case / "tsa-root.pem")
        for change in changes:
            change(bundle)

    return make


STATEMENT = "custody/statement.json"
SIG = "custody/statement.sig"
TAGS = "tagmanifest-sha256.txt"
MANIFEST = "manifest-sha256.txt"
BAG_INFO = "bag-info.txt"
PROOF = "custody/ledger-proof.json"
COMMITMENTS = "custody/commitments.jsonl"
REGISTER_ONLY = (
    "the page takes one trusted key or fingerprint; unit key registers are judged "
    "by custody verify --register only"
)

CASES: list[Case] = [
    Case("pristine", "A bundle as ingest wrote it, the signer's key trusted.", tampered()),
    Case(
        "pristine-by-fingerprint",
        "The pristine bundle, the signer trusted by its fingerprint alone.",
        tampered(),
        trust=(),
        by_fingerprint=True,
    ),
    Case("pristine-zip", "The pristine bundle as a zip holding its folder.", zipped()),
    Case("pristine-flat-zip", "The pristine bundle zipped from inside.", zipped(top=None)),
    Case(
        "no-trusted-key",
        "A valid signature, but the verifier chose no key.",
        tampered(),
        problems=[("untrusted_signer", STATEMENT)],
        trust=(),
        trusted=False,
    ),
    Case(
        "untrusted-key",
        "A valid signature by a key other than the one chosen.",
        tampered(),
        problems=[("untrusted_signer", STATEMENT)],
        trust=("stranger",),
        trusted=False,
    ),
    Case(
        "payload-changed",
        "One byte of a payload file changed.",
        tampered(edit("data/note.txt", flip)),
        problems=[("changed", "data/note.txt")],
    ),
    Case(
        "payload-missing",
        "A payload file deleted.",
        tampered(lambda b: (b / "data/photos/IMG_0001.bin").unlink()),
        problems=[("missing", "data/photos/IMG_0001.bin"), ("oxum_mismatch", BAG_INFO)],
    ),
    Case(
        "payload-extra",
        "A file planted in data/.",
        tampered(lambda b: (b / "data/planted.txt").write_bytes(b"not evidence\n")),
        problems=[("extra", "data/planted.txt"), ("oxum_mismatch", BAG_INFO)],
    ),
    Case(
        "payload-renamed",
        "A payload file renamed.",
        tampered(lambda b: os.rename(b / "data/note.txt", b / "data/note-renamed.txt")),
        problems=[("renamed", "data/note-renamed.txt")],
    ),
    Case(
        "manifest-line-changed",
        "A payload file and its manifest line changed together, the tag manifest left alone.",
        tampered(
            edit("data/note.txt", flip),
            lambda b: _relist(b, "data/note.txt"),
        ),
        problems=[
            ("changed", MANIFEST),
            # The salted commitments the statement signs still hold the file's
            # original digest (docs/format.md, "Commitments").
            ("statement_mismatch", COMMITMENTS),
            ("statement_mismatch", MANIFEST),
        ],
    ),
    Case(
        "manifests-recomputed",
        "A payload file changed by a careful forger who recomputes both manifests.",
        tampered(
            edit("data/note.txt", flip),
            lambda b: _relist(b, "data/note.txt"),
            refresh_tag_manifest,
        ),
        problems=[("statement_mismatch", COMMITMENTS), ("statement_mismatch", MANIFEST)],
    ),
    Case(
        "manifest-bad-line",
        "A manifest line that is not 'sha256 path' and one escaping the bundle.",
        tampered(then_refresh(edit(MANIFEST, lambda d: d + b"zz  ../../etc/passwd\nnot a line\n"))),
        problems=[("bad_manifest", MANIFEST), ("statement_mismatch", MANIFEST)],
    ),
    Case(
        "tag-manifest-crlf",
        "The tag manifest respelled with CR LF line endings.",
        tampered(edit(TAGS, lambda d: d.replace(b"\n", b"\r\n"))),
        problems=[("bad_tag_format", TAGS)],
    ),
    Case(
        "tag-manifest-upper-hex",
        "A tag manifest digest written in upper case.",
        tampered(edit(TAGS, lambda d: d[:64].upper() + d[64:])),
        problems=[("bad_tag_format", TAGS)],
    ),
    Case(
        "manifest-crlf",
        "The payload manifest respelled with CR LF, the tag manifest recomputed.",
        tampered(then_refresh(edit(MANIFEST, lambda d: d.replace(b"\n", b"\r\n")))),
        problems=[("statement_mismatch", MANIFEST)],
    ),
    Case(
        "tag-manifest-line-removed",
        "bag-info.txt's line taken out of the tag manifest.",
        tampered(
            edit(
                TAGS,
                lambda d: b"".join(x for x in d.splitlines(True) if BAG_INFO.encode() not in x),
            )
        ),
        problems=[("extra", BAG_INFO)],
    ),
    Case(
        "tag-manifest-missing",
        "The tag manifest deleted.",
        tampered(lambda b: (b / TAGS).unlink()),
        # Without a tag manifest, custody/ledger-proof.json is listed nowhere.
        problems=[("extra", COMMITMENTS), ("extra", PROOF), ("missing", TAGS)],
    ),
    Case(
        "extra-tag-file",
        "A tag file planted in custody/.",
        tampered(lambda b: (b / "custody/notes.txt").write_bytes(b"planted\n")),
        problems=[("extra", "custody/notes.txt")],
    ),
    Case(
        "signature-corrupted",
        "One bit of the statement's signature flipped.",
        tampered(then_refresh(edit(SIG, flip))),
        problems=[("bad_signature", SIG)],
        signature_valid=False,
    ),
    Case(
        "signature-missing",
        "The statement's signature deleted.",
        tampered(lambda b: (b / SIG).unlink()),
        problems=[("missing", SIG)],
        trusted=False,
        signature_valid=False,
    ),
    Case(
        "statement-changed",
        "The signed statement's exhibit changed, the tag manifest recomputed.",
        tampered(then_refresh(edit(STATEMENT, lambda d: d.replace(b"JS/1", b"JS/2")))),
        # The ledger proof is for the statement as signed, not this one.
        problems=[("bad_ledger_proof", PROOF), ("bad_signature", SIG)],
        signature_valid=False,
    ),
    Case(
        "statement-not-canonical",
        "The statement re-serialised with indentation (no longer RFC 8785).",
        tampered(
            then_refresh(edit(STATEMENT, lambda d: json.dumps(json.loads(d), indent=1).encode()))
        ),
        problems=[("bad_statement", STATEMENT)],
        trusted=False,
        signature_valid=False,
    ),
    Case(
        "bagit-damaged",
        "bagit.txt claims another BagIt version.",
        tampered(
            then_refresh(
                edit(
                    "bagit.txt", lambda d: d.replace(b"BagIt-Version: 1.0", b"BagIt-Version: 0.97")
                )
            )
        ),
        problems=[("bad_bagit", "bagit.txt"), ("bad_tag_format", "bagit.txt")],
    ),
    Case(
        "bagit-missing",
        "bagit.txt deleted.",
        tampered(lambda b: (b / "bagit.txt").unlink()),
        problems=[("missing", "bagit.txt")],
    ),
    Case(
        "bagit-no-final-newline",
        "bagit.txt without its last line ending, the tag manifest recomputed.",
        tampered(then_refresh(edit("bagit.txt", lambda d: d[:-1]))),
        problems=[("bad_tag_format", "bagit.txt")],
    ),
    Case(
        "statement-missing",
        "The signed statement deleted.",
        tampered(lambda b: (b / STATEMENT).unlink()),
        problems=[("missing", STATEMENT)],
        trusted=False,
        signature_valid=False,
    ),
    Case(
        "bag-info-oxum",
        "bag-info.txt's Payload-Oxum edited.",
        tampered(then_refresh(edit(BAG_INFO, lambda d: _oxum(d, "1.1")))),
        problems=[
            ("oxum_mismatch", BAG_INFO),
            ("statement_mismatch", BAG_INFO),
        ],
    ),
    Case(
        "bag-info-no-oxum",
        "bag-info.txt without its Payload-Oxum.",
        tampered(then_refresh(edit(BAG_INFO, lambda d: _oxum(d, None)))),
        problems=[("bad_bag_info", BAG_INFO), ("statement_mismatch", BAG_INFO)],
    ),
    Case(
        "signer-key-other",
        "custody/signer.pub replaced by another officer's key file.",
        lambda m, case: tampered(
            then_refresh(lambda b: shutil.copyfile(m.stranger_pub, b / "custody/signer.pub"))
        )(m, case),
        problems=[("signer_key_mismatch", "custody/signer.pub")],
    ),
    Case(
        "signer-key-respelled",
        "custody/signer.pub's Name header edited, the key itself kept.",
        tampered(
            then_refresh(
                edit("custody/signer.pub", lambda d: d.replace(b"PC Jane Smith", b"PC John Smith"))
            )
        ),
        problems=[("bad_tag_format", "custody/signer.pub")],
    ),
    Case(
        "signer-key-garbage",
        "custody/signer.pub is not a key file.",
        tampered(then_refresh(edit("custody/signer.pub", lambda d: b"not a key\n"))),
        problems=[("bad_signer_key", "custody/signer.pub")],
    ),
    Case(
        "metadata-changed",
        "custody/metadata.json edited, the tag manifest recomputed.",
        tampered(
            then_refresh(edit("custody/metadata.json", lambda d: d.replace(b"null", b"1", 1)))
        ),
        problems=[("statement_mismatch", "custody/metadata.json")],
    ),
    Case(
        "names-pristine", "A bundle storing a non-portable name under a portable one.", names_case()
    ),
    Case(
        "names-changed",
        "custody/names.json edited, the tag manifest recomputed.",
        names_case(
            then_refresh(
                edit(
                    "custody/names.json",
                    lambda d: d.replace(b'"original_hex":"31', b'"original_hex":"32', 1),
                )
            )
        ),
        problems=[("statement_mismatch", "custody/names.json")],
    ),
    Case(
        "names-missing",
        "custody/names.json deleted, the tag manifest recomputed.",
        names_case(then_refresh(lambda b: (b / "custody/names.json").unlink())),
        problems=[("missing", "custody/names.json")],
    ),
    Case(
        "os-leftovers",
        "A .DS_Store and an AppleDouble file a Mac added: set aside, still verified.",
        leftovers,
        os_leftovers=(".DS_Store", "data/._note.txt"),
    ),
    Case(
        "os-leftover-lookalike",
        "A file named .DS_Store that is not one: extra.",
        tampered(lambda b: (b / ".DS_Store").write_bytes(b"planted\n")),
        problems=[("extra", ".DS_Store")],
    ),
    Case(
        "ledger-proof-forged",
        "The ledger proof's inclusion path reordered, the tag manifest recomputed.",
        tampered(then_refresh(edit(PROOF, _forge_proof))),
        problems=[("bad_ledger_proof", PROOF)],
    ),
    Case(
        "ledger-proof-float-index",
        "The ledger proof's leaf_index written as a float, the tag manifest recomputed.",
        tampered(
            then_refresh(
                edit(PROOF, lambda d: re.sub(rb'"leaf_index": (\d+)', rb'"leaf_index": \1.0', d))
            )
        ),
        problems=[("bad_ledger_proof", PROOF)],
    ),
    Case(
        "ledger-proof-respelled",
        "The ledger proof re-serialised on one line, the tag manifest recomputed.",
        tampered(
            then_refresh(edit(PROOF, lambda d: json.dumps(json.loads(d), sort_keys=True).encode()))
        ),
        problems=[("bad_tag_format", PROOF)],
    ),
    Case(
        "handover-open",
        "Handed over to the registry; the receipt is not back: verified, hand-over open.",
        handover(),
        open_handover=True,
    ),
    Case(
        "handover-received",
        "Handed over and received: the chain of custody complete in the receiver's copy.",
        received,
    ),
    Case(
        "handover-forged",
        "The hand-over record's signature damaged.",
        handover(then_refresh(edit("custody/chain/0001-transfer.sig", flip))),
        problems=[("bad_custody_signature", "custody/chain/0001-transfer.json")],
        open_handover=True,
    ),
    Case(
        "handover-required-closed",
        "An open hand-over, the verifier requiring a closed chain.",
        handover(),
        problems=[("unreceived_transfer", "custody/chain/0001-transfer.json")],
        require_closed_chain=True,
        open_handover=True,
        custody_only="the page has no --require-closed-chain: it shows an open hand-over",
    ),
    Case(
        "zip-duplicate-name",
        "A zip holding data/note.txt twice.",
        zipped(lambda ms: [*ms, ("bundle/data/note.txt", b"a second note\n")]),
        exit_code=2,
        error="archive refused: the archive holds 'bundle/data/note.txt' twice",
    ),
    Case(
        "zip-duplicate-spelled-twice",
        "A zip holding data/note.txt twice, once as ./bundle/data/note.txt.",
        zipped(lambda ms: [*ms, ("./bundle/data/note.txt", b"a second note\n")]),
        exit_code=2,
        error="archive refused: the archive holds 'bundle/data/note.txt' twice",
    ),
    Case(
        "zip-unsafe-path",
        "A zip member whose name climbs out of the bundle.",
        zipped(lambda ms: [*ms, ("bundle/../../evil.txt", b"escape\n")]),
        problems=[("unsafe_path", "../../evil.txt")],
    ),
    Case(
        "zip-symlink",
        "A zip member that is a symbolic link.",
        zip_symlink,
        problems=[("not_regular_file", "data/link.txt")],
    ),
    Case(
        "zip-bad-crc",
        "A stored zip member's byte changed: its CRC-32 no longer matches.",
        zip_bad_crc,
        # Unreadable, so not counted in the payload: Payload-Oxum disagrees too.
        problems=[("oxum_mismatch", BAG_INFO), ("unreadable", "data/note.txt")],
    ),
    Case(
        "zip-encrypted-member",
        "A zip member flagged as encrypted.",
        zip_encrypted_member,
        # Never read, so not counted in the payload: Payload-Oxum disagrees too.
        problems=[("not_regular_file", "data/note.txt"), ("oxum_mismatch", BAG_INFO)],
    ),
    Case(
        "zip-absolute-path",
        "A zip member with an absolute name.",
        zipped(lambda ms: [*ms, ("/etc/evil.txt", b"escape\n")]),
        problems=[("unsafe_path", "/etc/evil.txt")],
    ),
    Case(
        "zip-backslash-path",
        "A zip member whose name holds a backslash.",
        zipped(lambda ms: [*ms, ("bundle/data\\evil.txt", b"escape\n")]),
        problems=[("unsafe_path", "data\\evil.txt")],
    ),
    Case(
        "zip-finder-compress",
        "A zip made by Finder's Compress: AppleDouble files under __MACOSX/ beside the bundle.",
        zipped(lambda ms: [*ms, ("__MACOSX/bundle/data/._note.txt", APPLEDOUBLE)]),
        os_leftovers=("__MACOSX/bundle/data/._note.txt",),
    ),
    Case(
        "zip-truncated",
        "A zip cut in half.",
        zip_truncated,
        exit_code=2,
        error="damaged or truncated zip (no central directory)",
    ),
    Case(
        "not-a-zip",
        "A letter named bundle.zip.",
        not_a_zip,
        exit_code=2,
        error="not a bundle: not a folder, zip or tar archive",
        page_error="not a .zip archive; a .tar or .tar.gz is not read here: "
        "give the folder, or check it with custody verify",
    ),
    Case(
        "zip-prepended",
        "Bytes before the first zip member (a self-extracting stub).",
        zip_prepended,
        exit_code=2,
        error="archive refused: 64 bytes before the first zip member "
        "(prepended data, or a self-extracting stub)",
    ),
    Case(
        "zip-polyglot",
        "A file that is both a tar and a zip.",
        zip_polyglot,
        exit_code=2,
        error="archive refused: it is both a tar and a zip archive, "
        "and extractors would show different bundles",
    ),
    Case(
        "not-a-bundle",
        "A folder that is not a bundle (no bagit.txt).",
        not_a_bundle,
        exit_code=2,
        error="not a bundle (no bagit.txt)",
    ),
    Case(
        "tar-pristine",
        "The pristine bundle as a tar.",
        write_tar(),
        custody_only="the page reads folders and zips, not tar archives",
    ),
    Case(
        "names-unsigned",
        "A names file in a bundle whose statement signs none.",
        names_unsigned,
        problems=[("bad_names", "custody/names.json")],
    ),
    Case(
        "chain-stray-file",
        "A file in custody/chain/ that is no hand-over record.",
        handover(lambda b: (b / "custody/chain/notes.txt").write_bytes(b"planted\n")),
        problems=[("bad_custody_record", "custody/chain/notes.txt")],
        open_handover=True,
    ),
    Case(
        "chain-receipt-without-transfer",
        "A received bundle whose hand-over record was taken out.",
        receipt_without_transfer,
        problems=[("broken_custody_chain", "custody/chain/0001-receipt.json")],
    ),
    Case(
        "timestamp-trusted",
        "A timestamp from a TSA whose root the verifier chose.",
        stamped(),
        tsa_roots=("tsa-root.pem",),
    ),
    Case(
        "timestamp-damaged",
        "The timestamp token's last byte changed, the tag manifest recomputed.",
        stamped(
            None, then_refresh(edit("custody/timestamps/1.tsr", lambda d: flip(d, len(d) - 1)))
        ),
        problems=[("bad_timestamp", "custody/timestamps/1.tsr")],
        tsa_roots=("tsa-root.pem",),
    ),
    Case(
        "timestamp-required",
        "A timestamp is required, and the bundle has one from a TSA not chosen.",
        stamped(),
        problems=[("timestamp_required", "custody/timestamps")],
        require_timestamp=True,
        custody_only="the page trusts no TSA root and has no --require-timestamp",
    ),
    Case(
        "timestamp-before-created",
        "The TSA proves the signature existed in 2026-01, the statement claims it was made later.",
        stamped("2026-01-02T00:00:00"),
        problems=[("clock_after_timestamp", STATEMENT)],
        tsa_roots=("tsa-root.pem",),
        custody_only="the page trusts no TSA root, so it proves no time to compare",
    ),
    Case(
        "tar-duplicate-name",
        "A tar holding data/note.txt twice, once as ./bundle/data/note.txt.",
        write_tar(lambda ms: [*ms, ("./bundle/data/note.txt", b"a second note\n")]),
        exit_code=2,
        error="archive refused: the archive holds 'bundle/data/note.txt' twice",
        custody_only="the page reads folders and zips, not tar archives",
    ),
    Case(
        "tar-truncated",
        "A tar cut short inside its last member.",
        write_tar(cut=True),
        # The tag manifest is the last member: without it, the ledger proof is listed nowhere.
        problems=[
            ("extra", COMMITMENTS),
            ("extra", PROOF),
            ("missing", TAGS),
            ("truncated_archive", None),
        ],
        custody_only="the page reads folders and zips, not tar archives",
    ),
    Case(
        "witness-quorum",
        "One cosignature by the chosen witness required; the checkpoint has none.",
        unwitnessed,
        problems=[("witness_quorum", PROOF)],
        quorum=1,
        custody_only="the page checks no witness cosignatures (it says so on the page)",
    ),
    Case(
        "witness-cosigned",
        "The ledger checkpoint cosigned by the chosen witness, one cosignature required.",
        cosigned(),
        quorum=1,
        custody_only="the page checks no witness cosignatures (it says so on the page)",
    ),
    Case(
        "witness-cosignature-damaged",
        "The witness's cosignature on the checkpoint damaged, the tag manifest recomputed.",
        cosigned(then_refresh(edit(PROOF, _damage_cosignature))),
        problems=[("bad_cosignature", PROOF), ("witness_quorum", PROOF)],
        quorum=1,
        custody_only="the page checks no witness cosignatures (it says so on the page)",
    ),
    Case(
        "register-valid",
        "No key trusted directly; a unit register certifies the signer's key until 2099.",
        with_register(("officer", "2026-01-01", "2099-12-31")),
        trust=(),
        registers=("register.json",),
        custody_only=REGISTER_ONLY,
    ),
    Case(
        "register-expired",
        "The register's certificate of the key ended in 2025.",
        with_register(("officer", "2025-01-01", "2025-12-31")),
        problems=[("key_not_valid", STATEMENT)],
        trust=(),
        registers=("register.json",),
        trusted=False,
        custody_only=REGISTER_ONLY,
    ),
    Case(
        "register-not-yet-valid",
        "The register certifies the key only from 2099.",
        with_register(("officer", "2099-01-01", "2099-12-31")),
        problems=[("key_not_valid", STATEMENT)],
        trust=(),
        registers=("register.json",),
        trusted=False,
        custody_only=REGISTER_ONLY,
    ),
    Case(
        "register-revoked",
        "The register revokes the key as compromised since 2026-01-02.",
        with_register(
            ("officer", "2026-01-01", "2099-12-31"),
            revoke=("officer", "--reason", "compromised", "--since", "2026-01-02T00:00:00Z"),
        ),
        problems=[("key_not_valid", STATEMENT)],
        trust=(),
        registers=("register.json",),
        trusted=False,
        custody_only=REGISTER_ONLY,
    ),
    Case(
        "register-not-listed",
        "The register certifies another officer only.",
        with_register(("receiver", "2026-01-01", "2099-12-31")),
        problems=[("untrusted_signer", STATEMENT)],
        trust=(),
        registers=("register.json",),
        trusted=False,
        custody_only=REGISTER_ONLY,
    ),
]


# --- writing a case --------------------------------------------------------------------


def expected_of(case: Case) -> dict[str, Any]:
    """expected.json: the case as stated, in the stable form of a report."""
    out: dict[str, Any] = {
        "description": case.description,
        "verifiers": ["custody"] if case.custody_only else ["custody", "page"],
    }
    if case.custody_only:
        out["custody_only"] = case.custody_only
    if case.error is not None:
        out.update(exit_code=case.exit_code if case.exit_code is not None else 2, error=case.error)
        if case.page_error is not None:
            out["page_error"] = case.page_error
        return out
    verified = not case.problems
    out.update(
        exit_code=case.exit_code if case.exit_code is not None else (0 if verified else 1),
        verified=verified,
        problems=pairs({"kind": k, "path": p} for k, p in case.problems),
        os_leftovers=sorted(case.os_leftovers),
        open_handover=case.open_handover,
        signer={"trusted": case.trusted, "signature_valid": case.signature_valid},
    )
    return out


def policy_of(case: Case, m: Maker) -> dict[str, Any]:
    return {
        "keys": [f"{who}.pub" for who in case.trust],
        "fingerprints": [m.officer_fingerprint] if case.by_fingerprint else [],
        "registers": list(case.registers),
        "tsa_roots": list(case.tsa_roots),
        "witness_keys": ["witness.pub"] if case.quorum else [],
        "quorum": case.quorum,
        "require_timestamp": case.require_timestamp,
        "require_closed_chain": case.require_closed_chain,
    }


NOT_COMPARED = ("description", "verifiers", "custody_only", "page_error")
"""expected.json's fields that are about the case, not custody's report."""


def write_case(case: Case, m: Maker, out: Path) -> list[str]:
    """Make one case in out/<name>; returns how custody disagrees (nothing when it agrees)."""
    target = out / case.name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    case.make(m, target)
    for who in case.trust:
        shutil.copyfile(KEYS / f"{who}.pub", target / f"{who}.pub")
    policy = policy_of(case, m)
    (target / "policy.json").write_text(json.dumps(policy, indent=2) + "\n")
    want = expected_of(case)
    got = verify(target)
    (target / "expected.json").write_text(json.dumps(want, indent=2, ensure_ascii=False) + "\n")
    mine = {k: v for k, v in want.items() if k not in NOT_COMPARED}
    if got != mine:
        return [f"{case.name}: custody says {json.dumps(got)}, the case says {json.dumps(mine)}"]
    return []


def build(out: Path, only: Sequence[str] = ()) -> list[str]:
    """Make every case (or those named) under `out`; returns the disagreements."""
    chosen = [c for c in CASES if not only or c.name in only]
    unknown = set(only) - {c.name for c in CASES}
    if unknown:
        raise SystemExit(f"no such case: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="custody-vectors-") as work:
        m = Maker(Path(work))
        problems: list[str] = []
        try:
            for case in chosen:
                problems += write_case(case, m, out)
        finally:
            m.close()
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--only", nargs="*", default=())
    args = parser.parse_args(argv)
    problems = build(args.out, args.only)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
