"""Driving the verifier page in a real headless Chromium (selenium +
/usr/bin/chromedriver), for tests/integration/test_verifier_page.py and bench/."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not Path(tool).exists():
            return f"{tool} is not installed (Debian: apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@contextmanager
def browser() -> Iterator[Any]:
    """A fresh headless Chromium with its own profile, quit (and its driver
    stopped by pid) when done, also on failure."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="custody-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, port=0)
    driver = webdriver.Chrome(service=service, options=options)
    driver.custody_driver_pid = service.process.pid
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            service.stop()
            shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The verifier page open in a browser."""

    def __init__(self, driver: Any, page: Path) -> None:
        self.driver = driver
        driver.get(page.resolve().as_uri())
        self.wait(lambda: self.state() == "ready", 30)

    def state(self) -> str:
        return str(self.driver.execute_script("return document.body.dataset.state"))

    def wait(self, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"page state stayed {self.state()!r}")
            time.sleep(0.05)

    def reset(self) -> None:
        self.driver.execute_script(
            "for (const id of ['key-file','bundle-folder','bundle-zip']) "
            "document.getElementById(id).value = '';"
            "document.getElementById('fingerprint').value = '';"
        )

    def trust_key_file(self, path: Path) -> None:
        self.driver.find_element("id", "key-file").send_keys(str(path))

    def trust_fingerprint(self, text: str) -> None:
        field = self.driver.find_element("id", "fingerprint")
        field.clear()
        field.send_keys(text)

    def verify(self, bundle: Path, timeout: float = 600) -> dict[str, Any]:
        """Give the page a bundle folder or .zip; its result document."""
        target = "bundle-zip" if bundle.is_file() else "bundle-folder"
        # A file input with `multiple` adds to what it holds: empty it first.
        self.driver.execute_script(
            "document.getElementById(arguments[0]).value = '';"
            "document.body.dataset.state = 'waiting'; window.custodyResult = null;",
            target,
        )
        self.driver.find_element("id", target).send_keys(str(bundle))
        self.wait(lambda: self.state() in ("done", "error"), timeout)
        result = self.driver.execute_script("return JSON.stringify(window.custodyResult)")
        return dict(json.loads(result))


def tree_rss_kib(pid: int) -> int:
    """The summed RSS of a process and all its descendants (Chromium's renderer,
    GPU, network and worker processes)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("PPid:"):
                        parents[int(entry)] = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        rss[int(entry)] = int(line.split()[1])
        except OSError:
            continue
    total = 0
    for p in parents:
        q: int | None = p
        while q is not None and q != pid:
            q = parents.get(q)
        if q == pid:
            total += rss.get(p, 0)
    return total + rss.get(pid, 0)


class PeakSampler:
    """Samples a process tree's RSS every 250 ms while in a `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakSampler:
        self.peak = tree_rss_kib(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, tree_rss_kib(self.pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def print_to_pdf(html: Path, tmp_path: Path) -> Path:
    """Print a page to PDF with headless Chromium, as a clerk's "print to PDF" does
    (no header or footer of the browser's own); skips the test where Chromium or
    poppler's pdftotext is absent. Returns the PDF's path, beside the page."""
    import subprocess

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("pdftotext") is None:
        pytest.skip("chromium and pdftotext are needed to print the report")
    pdf = html.with_suffix(".pdf")
    subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return pdf
