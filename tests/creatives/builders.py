"""Named builders for creative bundles: a valid one, and the pieces to spoil it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

MANIFEST = """\
name: spring-offer
channels: [post, email]
fi:
  subject: Kevään tarjous
  texts:
    greeting: Hei
    headline: Kevät on täällä
sv:
  subject: Vårens erbjudande
  texts:
    greeting: Hej
    headline: Våren är här
""".encode()

LETTER = b"""\
<link rel="stylesheet" href="assets/style.css">
<img src="assets/logo.png" alt="logo">
<h1>{{ campaign.texts.headline }}</h1>
<p>{{ campaign.texts.greeting }} {{ recipient.first_name }},</p>
"""

EMAIL_HTML = b"""\
<h1>{{ campaign.texts.headline }}</h1>
<p>{{ campaign.texts.greeting }} {{ recipient.first_name }}</p>
<img src="assets/logo.png" alt="">
"""

EMAIL_TXT = b"{{ campaign.texts.greeting }} {{ recipient.first_name }}\n"

CSS = b".logo { background: url(logo.png) no-repeat; }\n"


def png(width: int = 40, height: int = 20, color: tuple[int, int, int] = (0, 90, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def valid_files() -> dict[str, bytes]:
    """A small bundle that passes every check: post and e-mail, fi and sv."""
    return {
        "creative.yaml": MANIFEST,
        "letter.html.j2": LETTER,
        "email.html.j2": EMAIL_HTML,
        "email.txt.j2": EMAIL_TXT,
        "assets/style.css": CSS,
        "assets/logo.png": png(),
    }


def write_dir(root: Path, files: Mapping[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def zip_bytes(files: Mapping[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
