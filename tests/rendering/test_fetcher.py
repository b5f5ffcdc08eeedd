"""Invariant 5 for layout: a creative cannot read files or reach the network.

Every vector below is put into a creative body (or its stylesheet) that also refers
to a secret file and to a real HTTP server on 127.0.0.1. For each, the test proves:

* the secret's content is nowhere in the PDF (raw bytes, decoded streams, text);
* the secret file was never opened (a Python audit hook watches ``open``);
* no connection reached the local server (its listening socket has an empty
  backlog) and no socket connect or DNS lookup happened (audit hook);
* the refusal was recorded, and the real entry point refuses the creative.
"""

from __future__ import annotations

import base64
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dispatch.rendering import AssetFetcher, CreativeRejected, FetchRefused, render_variant
from dispatch.rendering.fetcher import MAX_DATA_BYTES
from dispatch.rendering.layout import (
    DEMO_SENDER,
    Frame,
    layout_body,
    render_frame,
    system_assets,
)
from tests.rendering.helpers import GREETING_BODY, decoded_streams, pdf_text

SECRET = "S3CRET-7f3a9c-DO-NOT-PRINT"
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class Audit:
    """Records the audited events the tests care about, while ``recording``."""

    recording: bool = False
    events: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, event: str, args: tuple[object, ...]) -> None:
        if not self.recording:
            return
        if event == "open":
            self.events.append((event, str(args[0])))
        elif event.startswith(("socket.connect", "socket.getaddrinfo", "urllib.Request")):
            self.events.append((event, repr(args)[:200]))


AUDIT = Audit()
sys.addaudithook(AUDIT)  # hooks cannot be removed; it is inert unless recording


class RedirectingServer(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 that redirects, and counts every connection."""

    def __init__(self, secret: Path) -> None:
        self.connections = 0
        self.secret = secret
        super().__init__(("127.0.0.1", 0), RedirectHandler)

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True


class RedirectHandler(BaseHTTPRequestHandler):
    """``/redirect`` -> ``/redirect2`` -> ``/pixel.png``; ``/to-file`` -> the secret."""

    server: RedirectingServer

    def do_GET(self) -> None:
        hops = {
            "/redirect": "/redirect2",
            "/redirect2": "/pixel.png",
            "/to-file": f"file://{self.server.secret}",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        }
        if self.path in hops:
            self.send_response(302)
            self.send_header("Location", hops[self.path])
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(PNG_1X1)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Trap:
    secret_dir: Path
    secret: Path
    server: RedirectingServer

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def connections(self) -> int:
        """Connections handled, plus any still waiting in the listening socket's backlog."""
        self.server.shutdown()
        waiting = 0
        self.server.socket.setblocking(False)
        while True:
            try:
                conn, _ = self.server.socket.accept()
            except BlockingIOError:
                return self.server.connections + waiting
            conn.close()
            waiting += 1


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[Trap]:
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    secret = secret_dir / "secret.txt"
    secret.write_text(SECRET)
    (secret_dir / "secret.css").write_text(f'body::before {{ content: "{SECRET}" }}')
    server = RedirectingServer(secret)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Trap(secret_dir, secret, server)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def vectors(secret_dir: Path, port: int) -> dict[str, str]:
    s, css = (secret_dir / "secret.txt").as_posix(), (secret_dir / "secret.css").as_posix()
    local = f"http://127.0.0.1:{port}"
    return {
        "img-file": f'<img src="file://{s}">',
        "img-file-uppercase": f'<img src="FILE://{s}">',
        "img-file-mixed-case": f'<img src="FiLe://{s}">',
        "img-file-percent-scheme": f'<img src="%66ile://{s}">',
        "img-file-percent-path": f'<img src="file:{s.replace("/", "%2F")}">',
        "link-stylesheet-file": f'<link rel="stylesheet" href="file://{css}">',
        "import-file": f'<style>@import url("file://{css}");</style>',
        "font-face-file": f"<style>@font-face {{ font-family: X; src: url(file://{s}) }}"
        " h1 { font-family: X }</style>",
        "css-background-file": f"<style>body {{ background: url('file://{s}') }}</style>",
        "svg-inline-image-and-use": '<svg xmlns="http://www.w3.org/2000/svg" width="10"'
        f' height="10"><image href="file://{s}" width="10" height="10"/>'
        f'<use href="file://{s}#x"/></svg>',
        "svg-asset-with-file-refs": '<img src="assets/evil.svg">',
        "a-attachment-file": f'<a rel="attachment" href="file://{s}">liite</a>',
        "link-attachment-file": f'<link rel="attachment" href="file://{s}">',
        "object-embed-iframe": f'<object data="file://{s}"></object><embed src="file://{s}">'
        f'<iframe src="file://{s}"></iframe>',
        "base-href-file": f'<base href="file://{secret_dir.as_posix()}/"><img src="secret.txt">',
        "etc-passwd": '<img src="file:///etc/passwd"><link rel="stylesheet" href="file:///etc/passwd">',
        "dev-urandom": '<img src="file:///dev/urandom">',
        "dotdot-escape": '<img src="../../../../../../etc/passwd">'
        '<img src="assets/../../../etc/passwd"><img src="assets/%2e%2e/%2e%2e/etc/passwd">',
        "http-loopback": f'<img src="{local}/pixel.png">'
        f'<link rel="stylesheet" href="{local}/a.css">',
        "http-redirect-chain": f'<img src="{local}/redirect"><img src="{local}/to-file">'
        f'<link rel="stylesheet" href="{local}/to-metadata">',
        "http-protocol-relative": f'<img src="//127.0.0.1:{port}/pixel.png">',
        "https-loopback-attachment": f'<a rel="attachment" href="https://127.0.0.1:{port}/x">x</a>',
        "metadata-service": '<img src="http://169.254.169.254/latest/meta-data/iam/">'
        "<style>h1 { background: url(http://169.254.169.254/) }</style>",
        "bundle-with-host": f'<img src="bundle://127.0.0.1:{port}/assets/logo.png">',
        "system-dotdot": '<img src="system:///../../etc/passwd">',
        "other-schemes": '<img src="ftp://127.0.0.1/x"><img src="jar:file:///x!/y">'
        '<img src="gopher://127.0.0.1:70/x">',
        "big-data-url": '<img src="data:image/png;base64,'
        + base64.b64encode(PNG_1X1 + b"\0" * (MAX_DATA_BYTES + 10)).decode()
        + '">',
    }


def bundle(secret_dir: Path, port: int) -> dict[str, bytes]:
    """The creative's own assets: a harmless PNG and an SVG that reaches out."""
    secret = (secret_dir / "secret.txt").as_posix()
    evil_svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        ' width="20" height="20"><style>@import url("file://' + secret + '");</style>'
        f'<image href="file://{secret}" width="10" height="10"/>'
        f'<image xlink:href="http://127.0.0.1:{port}/x.png" width="10" height="10"/>'
        f'<use href="file://{secret}#x"/></svg>'
    )
    return {"assets/logo.png": PNG_1X1, "assets/evil.svg": evil_svg.encode()}


VECTOR_NAMES = sorted(vectors(Path("/nowhere"), 1))


@pytest.fixture(scope="module")
def frame() -> Frame:
    return render_frame("fi", DEMO_SENDER)


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_creative_cannot_read_files_or_reach_the_network(
    name: str, trap: Trap, frame: Frame
) -> None:
    html = vectors(trap.secret_dir, trap.port)[name] + GREETING_BODY
    AUDIT.events.clear()
    AUDIT.recording = True
    try:
        # The real layout of a letter body, which keeps the PDF despite refusals.
        body = layout_body(html, bundle(trap.secret_dir, trap.port), "fi", frame)
    finally:
        AUDIT.recording = False
    pdf = body.pdf

    assert body.refused, "nothing was refused: the vector did not reach the fetcher"
    assert SECRET.encode() not in pdf
    assert all(SECRET.encode() not in stream for stream in decoded_streams(pdf))
    assert SECRET not in pdf_text(pdf)
    assert b"root:" not in pdf  # /etc/passwd
    opened = [path for event, path in AUDIT.events if event == "open"]
    forbidden = (str(trap.secret_dir), "/etc/passwd", "/dev/urandom")
    assert not [p for p in opened if p.startswith(forbidden)], opened
    assert not [e for e in AUDIT.events if e[0] != "open"], "a network call was attempted"
    assert trap.connections() == 0


def test_a_creative_reaching_outside_its_bundle_is_rejected(trap: Trap) -> None:
    assets = bundle(trap.secret_dir, trap.port)
    for name in ("img-file", "http-loopback", "a-attachment-file", "svg-asset-with-file-refs"):
        html = vectors(trap.secret_dir, trap.port)[name] + GREETING_BODY
        with pytest.raises(CreativeRejected, match="outside its bundle"):
            render_variant(html, assets, language="fi")
    assert trap.connections() == 0


def test_audit_hook_and_trap_do_see_a_real_read_and_connection(trap: Trap) -> None:
    # The checks above are only worth something if they can fail: a real read and a
    # real request (which follows the server's redirect chain) are both seen.
    AUDIT.events.clear()
    AUDIT.recording = True
    try:
        trap.secret.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{trap.port}/redirect", timeout=5) as r:
            assert r.read() == PNG_1X1
    finally:
        AUDIT.recording = False
    assert ("open", str(trap.secret)) in AUDIT.events
    assert any(event.startswith("socket.connect") for event, _ in AUDIT.events)
    assert trap.connections() == 3  # /redirect, /redirect2, /pixel.png


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        " file:///etc/passwd",
        "http://127.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "bundle:///etc/passwd",
        "bundle:///assets/../../etc/passwd",
        "bundle:///assets/%2e%2e/%2e%2e/etc/passwd",
        "bundle:///assets//logo.png",
        "bundle://evil.example/assets/logo.png",
        "bundle:///assets/logo.png?x=1",
        "bundle:///letter.html.j2",
        "system:///../etc/passwd",
        "system:///fonts/../../etc/passwd",
        "assets/logo.png",
        "data:text/plain," + "a" * (MAX_DATA_BYTES + 1),
    ],
)
def test_fetcher_refuses_everything_but_exact_assets(url: str) -> None:
    fetcher = AssetFetcher(
        bundle={"assets/logo.png": PNG_1X1, "letter.html.j2": b"x"}, system=system_assets()
    )
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    with pytest.raises(FetchRefused):
        fetcher.open(url)
    assert fetcher.refused and not fetcher.served


def test_fetcher_serves_bundle_assets_system_files_and_small_data_urls() -> None:
    fetcher = AssetFetcher(bundle={"assets/img/logo.png": PNG_1X1}, system=system_assets())
    response = fetcher.fetch("bundle:///assets/img/logo.png")
    assert response.read() == PNG_1X1
    assert response.content_type == "image/png"
    assert fetcher.fetch("BUNDLE:///assets/img/logo.png").read() == PNG_1X1
    assert fetcher.fetch("bundle:///assets/img/%6Cogo.png").read() == PNG_1X1
    assert fetcher.fetch("system:///letter/letter.css").content_type == "text/css"
    data = fetcher.fetch("data:image/png;base64," + base64.b64encode(PNG_1X1).decode())
    assert data.read() == PNG_1X1
    assert fetcher.refused == []


def test_bundle_assets_are_laid_out_including_relative_urls_from_a_stylesheet() -> None:
    assets = {
        "assets/css/letter.css": b"h1 { background: url(../img/bg.png) no-repeat }",
        "assets/img/bg.png": PNG_1X1,
        "assets/img/logo.png": PNG_1X1,
    }
    body = '<link rel="stylesheet" href="assets/css/letter.css"><img src="assets/img/logo.png">'
    variant = render_variant(body + GREETING_BODY, assets, language="fi")
    images = b"".join(
        part for obj in variant.pages[0].body.objects for part in obj if isinstance(part, bytes)
    )
    assert images.count(b"/Subtype /Image") >= 1


def test_fetch_count_is_capped() -> None:
    fetcher = AssetFetcher(bundle={"assets/a.png": PNG_1X1})
    with pytest.raises(FetchRefused, match="fetches"):
        for _ in range(10_000):
            fetcher.fetch("bundle:///assets/a.png")
