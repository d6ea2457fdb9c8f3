"""Vendored files are the pinned ones, served from the plane itself with a long cache."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

VENDOR = Path(__file__).resolve().parents[2] / "controlplane" / "ui" / "static" / "vendor"
ROW = re.compile(r"^\| (\S+) \| (\S+) \| (\S+) \| .* \| ([0-9a-f]{64}) \|$", re.M)


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    rows = ROW.findall((VENDOR / "VENDORED.md").read_text())
    files = {p.name for p in VENDOR.iterdir() if p.name != "VENDORED.md"}
    assert {r[0] for r in rows} == files  # nothing unrecorded, nothing missing
    for name, _package, version, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        assert version in name or name.endswith("LICENSE.txt")


def test_static_files_are_served_with_a_year_long_cache(client: TestClient) -> None:
    r = client.get("/ui/static/vendor/htmx-2.0.11.min.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/ui/static/../app.py").status_code == 404


def test_pages_load_scripts_only_from_the_plane(client: TestClient) -> None:
    page = client.get("/ui/login")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/ui/") for s in sources), sources
    assert "default-src 'self'" in page.headers["content-security-policy"]
