"""Evidence is never refused for its name: every name a POSIX folder allows is
stored under a portable name, mapped back by the signed custody/names.json, and
verify, audit, store pull and the verifier page read it back (issue 22, item 5)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from browser_page import Page, browser, chromium_missing
from conftest import TESTS, Env, refresh_tag_manifest
from custody.bundle.format.names import MAX_COMPONENT_BYTES, check_names_map, stored_names
from custody.bundle.verify.check_names import check_written_names
from custody.ops.actions import audit_against_bundle
from names_helpers import HOSTILE_NAMES, make_tree, read_tree, restore
from s3_server import S3Server
from s3_server import s3_server as s3_server  # the session fixture


def hostile_source(root: Path) -> dict[bytes, bytes]:
    files = {name: b"content of " + name for name in HOSTILE_NAMES}
    files.update({b"DCIM\\sub\n dir/" + n: b"nested " + n for n in HOSTILE_NAMES[:6]})
    files[b"DCIM\\sub\n dir/plain.txt"] = b"plain"
    make_tree(root, files)
    return files


@pytest.fixture
def hostile(env: Env, officer: dict, tmp_path: Path) -> tuple[Path, Path, dict[bytes, bytes]]:
    src = tmp_path / "witness"
    files = hostile_source(src)
    result = env.run("ingest", src, "--case", "ICC-2026-014", "--out", tmp_path / "b", "--json")
    assert result.exit_code == 0, result.output
    return src, tmp_path / "b", files


def verify_json(env: Env, target: Path) -> dict:
    result = env.run("verify", target, "--json")
    report: dict = json.loads(result.stdout)
    return report


def test_every_hostile_name_is_kept_verifies_audits_and_restores_byte_exact(
    env: Env, hostile: tuple[Path, Path, dict[bytes, bytes]], tmp_path: Path
) -> None:
    src, bundle, files = hostile
    report = verify_json(env, bundle)
    assert report["verified"], report["problems"]
    assert report["files_checked"] == len(files)
    result = env.run("audit", src, bundle)
    assert result.exit_code == 0, result.output
    audit, _ = audit_against_bundle(home=env.home, folder=src, bundle=bundle)
    assert audit.identical
    assert {os.fsencode(p) for p in audit.matched} == set(files)
    restore(bundle, tmp_path / "restored")
    assert read_tree(tmp_path / "restored") == files
    for path in (bundle / "data").rglob("*"):
        assert len(path.name.encode()) <= MAX_COMPONENT_BYTES


def test_other_tools_read_the_bundle(hostile: tuple[Path, Path, dict[bytes, bytes]]) -> None:
    _, bundle, _ = hostile
    checked = subprocess.run(
        ["sha256sum", "--strict", "-c", "manifest-sha256.txt", "tagmanifest-sha256.txt"],
        cwd=bundle,
        capture_output=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bagit = pytest.importorskip("bagit")
    try:
        bagit.Bag(str(bundle)).validate()
    except bagit.BagValidationError as e:
        # bagit-python treats NFC and NFD as one name (docs/format.md): only
        # that pair may trouble it.
        assert e.details and all("Caf" in str(d) for d in e.details), e.details


def test_audit_names_a_renamed_original_by_its_original_name(
    env: Env, hostile: tuple[Path, Path, dict[bytes, bytes]]
) -> None:
    src, bundle, _ = hostile
    (Path(str(src)) / "tab\tname.txt").rename(src / "tab name.txt")
    assert env.run("audit", src, bundle).exit_code == 1
    audit, _ = audit_against_bundle(home=env.home, folder=src, bundle=bundle)
    assert audit.moved == (("tab\tname.txt", "tab name.txt"),)


def test_store_pull_restores_the_bundle_that_verifies(
    env: Env, officer: dict, s3_server: S3Server, tmp_path: Path
) -> None:
    # The test server (SeaweedFS) keeps keys as file names and fails on a
    # 255-byte component; S3 itself takes keys of 1,024 bytes.
    files = {n: b"content of " + n for n in HOSTILE_NAMES if len(n) < 200}
    make_tree(tmp_path / "witness", files)
    bundle = tmp_path / "b"
    result = env.run("ingest", tmp_path / "witness", "--case", "C-1", "--out", bundle)
    assert result.exit_code == 0, result.output
    bucket = s3_server.new_bucket()
    dest = f"s3://{bucket}/icc"
    extra = ["--endpoint-url", s3_server.endpoint]
    result = env.run(
        "store", "push", bundle, dest, "--retain-until", "2031-01-01", *extra, env=s3_server.env()
    )
    assert result.exit_code == 0, result.output
    pulled = tmp_path / "pulled"
    result = env.run("store", "pull", f"{dest}/{bundle.name}", pulled, *extra, env=s3_server.env())
    assert result.exit_code == 0, result.output
    assert read_tree(pulled) == read_tree(bundle)
    assert verify_json(env, pulled)["verified"]
    restore(pulled, tmp_path / "restored")
    assert read_tree(tmp_path / "restored") == files


def test_a_forged_names_file_is_not_verified(
    env: Env, hostile: tuple[Path, Path, dict[bytes, bytes]]
) -> None:
    _, bundle, _ = hostile
    names = bundle / "custody" / "names.json"
    forged = json.loads(names.read_bytes())
    forged["names"][0]["original_hex"] = b"innocent.jpg".hex()
    names.write_bytes(json.dumps(forged, separators=(",", ":")).encode())
    refresh_tag_manifest(bundle)
    report = verify_json(env, bundle)
    assert not report["verified"]
    assert {(p["kind"], p["path"]) for p in report["problems"]} == {
        ("statement_mismatch", "custody/names.json")
    }
    names.unlink()
    refresh_tag_manifest(bundle)
    kinds = {(p["kind"], p["path"]) for p in verify_json(env, bundle)["problems"]}
    assert kinds == {("missing", "custody/names.json")}


def test_a_names_file_added_to_a_bundle_that_signs_none_is_not_verified(
    env: Env, bundle: Path
) -> None:
    assert not (bundle / "custody" / "names.json").exists()  # portable names: no map
    (bundle / "custody" / "names.json").write_bytes(b'{"format":"custody/names/v1","names":[]}')
    with open(bundle / "tagmanifest-sha256.txt", "a") as fh:
        digest = hashlib.sha256((bundle / "custody" / "names.json").read_bytes()).hexdigest()
        fh.write(f"{digest}  custody/names.json\n")
    refresh_tag_manifest(bundle)
    kinds = {(p["kind"], p["path"]) for p in verify_json(env, bundle)["problems"]}
    assert ("bad_names", "custody/names.json") in kinds


def test_escaped_names_never_collide_and_fit_in_255_bytes() -> None:
    raws = [*HOSTILE_NAMES, b"a\\b", b"a=5Cb", b"a%b", b"a=25b", b"\\" * 300, b"\\" * 301]
    stored = stored_names(raws)
    assert len(set(stored.values())) == len(raws)
    assert all(len(s.encode()) <= MAX_COMPONENT_BYTES for s in stored.values())
    assert stored[b"a=5Cb"] == "a=5Cb"  # a portable name keeps its own name
    assert stored[b"a\\b"].startswith("a=5Cb~")  # and the escaped one gives way
    assert stored[b"x" * 255] == "x" * 255


def test_the_map_rules_verify_applies() -> None:
    manifest = ["data/a", "data/b=5C", "data/c=0A", "data/d"]

    def details(originals: dict[str, bytes]) -> list[str]:
        return [p.detail for p in check_names_map(originals, manifest, "data/")]

    assert details({"data/b=5C": b"b\\", "data/c=0A": b"c\n"}) == []
    assert details({"data/x": b"x\\"}) == ["names a file the payload manifest does not list"]
    assert details({"data/b=5C": b"../../etc/passwd"})[0].startswith("original name is absolute")
    assert details({"data/b=5C": b"/etc/passwd"})[0].startswith("original name is absolute")
    assert details({"data/b=5C": b"a"}) == ["same original name as data/a"]
    assert details({"data/b=5C": b"a/x"}) == ["original name lies inside data/a's name"]
    assert details({"data/b=5C": b"b=5C"}) == ["original name is the stored name"]
    assert details({"data/b=5C": b"x" * 256}) == [
        "original name has a component longer than 255 bytes"
    ]


def test_the_read_back_catches_what_the_old_writer_wrote() -> None:
    """The writer encoded a newline as %0A, the reader refused it: ingest's
    read-back now sees that before anything is signed or renamed."""
    digest = "0" * 64
    old = f"{digest}  data/new%0Aline.txt\n".encode()
    problems = check_written_names(old, None, {"data/new\nline.txt": (0, digest)})
    assert {p.kind for p in problems} == {"bad_manifest", "missing"}
    assert (
        check_written_names(f"{digest}  data/ok\n".encode(), None, {"data/ok": (0, digest)}) == []
    )


def test_a_failed_self_check_is_exit_3_and_leaves_nothing(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    """A bundle that does not read back as written never becomes visible: a file
    slipped into the hidden folder between copy and check stops the ingest."""
    src = tmp_path / "witness"
    hostile_source(src)
    (tmp_path / "out").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "custody",
            "ingest",
            str(src),
            "--case",
            "C-1",
            "--out",
            str(tmp_path / "out" / "b"),
        ],
        env={**env_vars(env), "CUSTODY_STOP_AT": "copied"},
        stderr=subprocess.PIPE,
    )
    partial = wait_for_stop(proc, tmp_path / "out")
    (partial / "data" / "slipped-in.txt").write_bytes(b"not evidence")
    proc.send_signal(18)  # SIGCONT
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err
    assert b"failed its own check" in err
    assert list((tmp_path / "out").iterdir()) == []


def env_vars(env: Env) -> dict[str, str]:
    from conftest import PASSPHRASE

    return {**os.environ, "CUSTODY_HOME": str(env.home), "CUSTODY_PASSPHRASE": PASSPHRASE}


def wait_for_stop(proc: subprocess.Popen[bytes], out: Path) -> Path:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "T":
                return next(out.glob(".b.*.partial"))
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.05)
    raise TimeoutError("ingest never reached 'copied'")


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_the_page_gives_custody_verify_s_verdict(
    env: Env, officer: dict, hostile: tuple[Path, Path, dict[bytes, bytes]], tmp_path: Path
) -> None:
    _, bundle, _ = hostile
    page_file = tmp_path / "verify-bundle.html"
    assert env.run("verifier", "-o", page_file).exit_code == 0
    forged = tmp_path / "forged"
    shutil.copytree(bundle, forged)
    names = forged / "custody" / "names.json"
    names.write_bytes(names.read_bytes().replace(b'"original_hex":"', b'"original_hex":"2e2e2f'))
    refresh_tag_manifest(forged)
    zipped = tmp_path / "bundle.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle.parent).as_posix())
    with browser() as driver:
        for target in (bundle, zipped, forged):
            expected = verify_json(env, target)
            page = Page(driver, page_file)
            page.trust_key_file(Path(officer["public_key"]))
            got = page.verify(target)
            assert got["verified"] is expected["verified"], got["problems"]
            kinds = {(p["kind"], p["path"]) for p in got["problems"]}
            assert kinds == {(p["kind"], p["path"]) for p in expected["problems"]}
    assert not expected["verified"]


def test_the_by_hand_recipe_accepts_the_bundle_and_catches_a_forged_map(
    officer: dict, hostile: tuple[Path, Path, dict[bytes, bytes]]
) -> None:
    from test_docs import run_recipe

    _, bundle, _ = hostile
    done = run_recipe(bundle, officer["public_key"])
    assert done.returncode == 0, done.stdout + done.stderr
    names = bundle / "custody" / "names.json"
    names.write_bytes(names.read_bytes().replace(b'"original_hex":"', b'"original_hex":"2e2e2f'))
    refresh_tag_manifest(bundle)
    assert run_recipe(bundle, officer["public_key"]).returncode != 0


OLD = TESTS / "fixtures" / "names"


def test_a_bundle_made_before_the_names_map_verifies_and_audits_as_before(
    env: Env, tmp_path: Path
) -> None:
    """old-bundle.tar was made by custody at commit d78ae42 (before custody/names.json)
    from the folder rebuilt below: the name that is not UTF-8 is stored as
    IMG_0001%FF.jpg, '100%.jpg' and 'trailing space ' as themselves."""
    from custody.base.keys import read_public_key_file
    from custody.policy import TrustPolicy

    key = OLD / "old-officer.pub"
    for target in (OLD / "old-bundle.tar", tmp_path / "old-bundle"):
        if target.suffix != ".tar":
            subprocess.run(["tar", "-xf", OLD / "old-bundle.tar", "-C", tmp_path], check=True)
        result = env.run("verify", target, "--trust", key, "--no-trust-store", "--json")
        report = json.loads(result.stdout)
        assert result.exit_code == 0 and report["verified"], report["problems"]
        assert report["files_checked"] == 4 and report["problems"] == []
    source = {
        b"DCIM/IMG_0001\xff.jpg": b"old phone photo",
        b"100%.jpg": b"percent",
        b"trailing space ": b"trailing",
        b"plain.txt": b"plain",
    }
    make_tree(tmp_path / "src", source)
    policy = TrustPolicy(keys=(read_public_key_file(key),))
    audit, _ = audit_against_bundle(
        home=env.home, folder=tmp_path / "src", bundle=tmp_path / "old-bundle", policy=policy
    )
    assert audit.identical
    assert set(audit.matched) == {
        "100%.jpg",
        "DCIM/IMG_0001%FF.jpg",
        "plain.txt",
        "trailing space ",
    }


def test_expand_gives_zip_members_portable_names(env: Env, officer: dict, tmp_path: Path) -> None:
    """A ZIP may hold member names no folder takes (over 255 bytes) or that
    sha256sum -c misreads ('%'): their working copies get portable names, and
    the member's own name stays in its metadata record."""
    src = tmp_path / "witness"
    src.mkdir()
    members = {"100%.jpg": b"a", "a=25.jpg": b"b", "y" * 300 + ".jpg": b"c", "ok/plain.txt": b"d"}
    with zipfile.ZipFile(src / "export.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    out = tmp_path / "b"
    result = env.run("ingest", src, "--case", "C-1", "--out", out, "--expand")
    assert result.exit_code == 0, result.output
    assert verify_json(env, out)["verified"]
    copies = {
        p.relative_to(out / "data" / "export.zip.expanded").as_posix(): p.read_bytes()
        for p in (out / "data" / "export.zip.expanded").rglob("*")
        if p.is_file()
    }
    assert sorted(copies.values()) == sorted(members.values())
    assert "100=25.jpg" in copies and "a=25.jpg" in copies and "ok/plain.txt" in copies
    assert all(len(part.encode()) <= 255 for rel in copies for part in rel.split("/"))
    checked = subprocess.run(
        ["sha256sum", "--strict", "-c", "manifest-sha256.txt"], cwd=out, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    records = json.loads((out / "custody" / "metadata.json").read_bytes())["files"]
    expanded = {
        r["details"]["expanded_from"]["member"]
        for r in records
        if "expanded_from" in r.get("details", {})
    }
    assert expanded == set(members)


def test_a_single_file_with_a_hostile_name_and_a_hand_over(
    env: Env, officer: dict, tmp_path: Path
) -> None:
    """A single file given as the source keeps its name too, and a hand-over,
    which rewrites the tag manifest, keeps the names map listed."""
    make_tree(tmp_path, {b"chat\\export\n.zip": b"PK not really"})
    out = tmp_path / "b"
    source = Path(os.fsdecode(os.fsencode(tmp_path) + b"/chat\\export\n.zip"))
    result = env.run("ingest", source, "--case", "C-1", "--out", out)
    assert result.exit_code == 0, result.output
    receiver = Env(home=tmp_path / "receiver", tmp=tmp_path)
    assert receiver.run("keygen", "--name", "Registry").exit_code == 0
    to = next((tmp_path / "receiver" / "keys").glob("*.pub"))
    moved = env.run("transfer", out, "--to", to, "--reason", "To the registry")
    assert moved.exit_code == 0, moved.output
    received = receiver.run("receive", out, "--trust", officer["public_key"])
    assert received.exit_code == 0, received.output
    report = verify_json(env, out)
    assert report["verified"], report["problems"]
    restore(out, tmp_path / "restored")
    assert read_tree(tmp_path / "restored") == {b"chat\\export\n.zip": b"PK not really"}
