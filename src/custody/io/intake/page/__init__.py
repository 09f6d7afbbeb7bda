"""The witness upload page, built from intake/ (npm, esbuild) into one HTML
file and its Content-Security-Policy, shipped as package data (docs/intake.md)."""

from __future__ import annotations

from importlib import resources


def page() -> tuple[bytes, str]:
    """The page's bytes and the CSP the server sends with it."""
    folder = resources.files(__name__)
    html = folder.joinpath("intake.html").read_bytes()
    csp = folder.joinpath("intake.csp").read_text("utf-8").strip()
    return html, csp
