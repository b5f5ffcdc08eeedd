"""References from templates, CSS and SVG: only to the bundle's own assets.

A reference is acceptable when it is one of:

- a ``#fragment`` inside the same document (SVG gradients, in-page anchors);
- a relative path that resolves, from the referring file's folder, to a file under
  ``assets/`` of the same bundle, of a kind that fits the place (an image for
  ``<img src>``, a stylesheet for ``<link href>``, a font for ``@font-face``);
- a ``data:`` URI of a PNG, JPEG or GIF image of at most :data:`MAX_DATA_URI` bytes.

Everything else is refused: any scheme (``http:``, ``https:``, ``file:``, ``ftp:``,
``javascript:`` ...), protocol-relative ``//host``, absolute paths, ``..``,
backslashes, percent-escapes, queries and whitespace inside the reference.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Collection
from enum import StrEnum

from dispatch.creatives.archive import ASSETS

MAX_DATA_URI = 2048

_DATA = re.compile(r"data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]*)\Z", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_FRAGMENT = re.compile(r"#[A-Za-z_][A-Za-z0-9_.:-]{0,99}\Z")
_HTML_SPACE = " \t\n\f\r"
_MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
}


class AssetKind(StrEnum):
    IMAGE = "image"
    STYLESHEET = "stylesheet"
    FONT = "font"
    ANY = "any"


EXTENSIONS: dict[str, AssetKind] = {
    ".png": AssetKind.IMAGE,
    ".jpg": AssetKind.IMAGE,
    ".jpeg": AssetKind.IMAGE,
    ".gif": AssetKind.IMAGE,
    ".svg": AssetKind.IMAGE,
    ".css": AssetKind.STYLESHEET,
    ".ttf": AssetKind.FONT,
    ".otf": AssetKind.FONT,
    ".woff": AssetKind.FONT,
    ".woff2": AssetKind.FONT,
}


def asset_kind(path: str) -> AssetKind | None:
    return EXTENSIONS.get(posixpath.splitext(path)[1].lower())


def check_ref(
    value: str,
    *,
    base: str,
    files: Collection[str],
    kind: AssetKind = AssetKind.ANY,
    fragment: bool = True,
    assets: bool = True,
) -> str | None:
    """Why ``value`` (referenced from a file in folder ``base``) is refused, or None.

    ``fragment`` allows ``#id`` references; ``assets`` allows bundle files (SVG may
    refer only to fragments of itself).
    """
    ref = value.strip(_HTML_SPACE)
    shown = _show(ref)
    if not ref:
        return "empty reference"
    if ref.startswith("#"):
        if fragment and _FRAGMENT.match(ref):
            return None
        return f"reference {shown}: only a #fragment of this document is allowed here"
    if ref[:5].lower() == "data:":
        return _data_problem(ref, kind)
    if ref.startswith(("//", "\\\\", "/\\", "\\/")):
        return f"remote reference {shown} (protocol-relative)"
    scheme = _SCHEME.match(ref)
    if scheme:
        return f"remote or external reference {shown} ({scheme.group(1).lower()}:)"
    if ":" in ref:
        return f"reference {shown} contains ':'"
    if ref.startswith(("/", "\\")):
        return f"absolute path {shown}"
    if "\\" in ref:
        return f"backslash in reference {shown}"
    if any(c in ref for c in "%?#") or any(c.isspace() or not c.isprintable() for c in ref):
        return f"reference {shown}: no %-escapes, queries, fragments or spaces in asset paths"
    segments = ref.split("/")
    if ".." in segments:
        return f"reference {shown} leaves its folder ('..')"
    if "." in segments or "" in segments:
        return f"reference {shown} is not a plain relative path"
    if not assets:
        return f"reference {shown}: only a #fragment of this document is allowed here"
    target = posixpath.normpath(posixpath.join(base, ref)) if base else ref
    if not target.startswith(ASSETS + "/"):
        return f"reference {shown} must point into {ASSETS}/"
    if target not in files:
        return f"reference {shown}: no such file {target} in the bundle"
    if kind is not AssetKind.ANY and asset_kind(target) is not kind:
        return f"reference {shown}: {target} is not a {kind.value}"
    return None


def _data_problem(ref: str, kind: AssetKind) -> str | None:
    if kind not in (AssetKind.IMAGE, AssetKind.ANY):
        return f"data: URI not allowed for a {kind.value}"
    if len(ref) > MAX_DATA_URI:
        return f"data: URI longer than {MAX_DATA_URI} characters (put the file in {ASSETS}/)"
    match = _DATA.match(ref)
    if not match:
        return "data: URI must be a base64 PNG, JPEG or GIF image"
    try:
        payload = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        return "data: URI is not valid base64"
    if not payload.startswith(_MAGIC[match.group(1).lower()]):
        return "data: URI content is not the image type it claims"
    return None


def _show(ref: str) -> str:
    short = ref if len(ref) <= 80 else ref[:77] + "..."
    return repr(short)
