"""Check the files under ``assets/``: images, stylesheets and fonts, nothing else.

The type is decided by the file's first bytes, and must agree with its extension,
so a script cannot pass as ``logo.png``. Raster images are decoded in full with
Pillow after their declared size was checked against :data:`MAX_PIXELS_SIDE` (and
with Pillow's decompression-bomb warning turned into an error), so a small file
cannot expand into gigabytes. Images of 2x2 pixels or less are refused: they exist
only to track. SVG goes to :mod:`dispatch.creatives.svg`, CSS to
:mod:`dispatch.creatives.css`. Fonts are checked by signature only; they are handed
to the layout engine's font loader as they are.
"""

from __future__ import annotations

import io
import posixpath
import warnings
from collections.abc import Collection

from PIL import Image, UnidentifiedImageError

from dispatch.creatives.css import Where, check_stylesheet
from dispatch.creatives.problems import Problem
from dispatch.creatives.refs import EXTENSIONS, AssetKind
from dispatch.creatives.svg import check_svg

MAX_PIXELS_SIDE = 4000
MAX_FRAMES = 100
TRACKING_PIXEL_SIDE = 2

_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".ttf": (b"\x00\x01\x00\x00", b"true"),
    ".otf": (b"OTTO",),
    ".woff": (b"wOFF",),
    ".woff2": (b"wOF2",),
}
_TRAILERS = {"JPEG": b"\xff\xd9", "GIF": b";"}
_PILLOW_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}


def check_asset(path: str, data: bytes, files: Collection[str]) -> list[Problem]:
    """Every problem of one file under ``assets/``."""
    ext = posixpath.splitext(path)[1].lower()
    kind = EXTENSIONS.get(ext)
    if kind is None:
        allowed = ", ".join(sorted(EXTENSIONS))
        return [Problem(path, None, f"file type not allowed in assets/ (allowed: {allowed})")]
    if not data:
        return [Problem(path, None, "empty file")]
    if ext == ".svg":
        return check_svg(data, path)
    if kind is AssetKind.STYLESHEET:
        return _check_css(path, data, files)
    signatures = _SIGNATURES[ext]
    if not data.startswith(signatures):
        return [Problem(path, None, f"content is not a {ext[1:].upper()} file")]
    if kind is AssetKind.IMAGE:
        return _check_image(path, data, _PILLOW_FORMATS[ext])
    return []


def _check_css(path: str, data: bytes, files: Collection[str]) -> list[Problem]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [Problem(path, None, f"not UTF-8 (byte {exc.start})")]
    if "\x00" in text:
        return [Problem(path, None, "NUL character in CSS")]
    return check_stylesheet(text, Where(path, 1, posixpath.dirname(path), files))


def _check_image(path: str, data: bytes, expected: str) -> list[Problem]:
    def problem(reason: str) -> list[Problem]:
        return [Problem(path, None, reason)]

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width > MAX_PIXELS_SIDE or height > MAX_PIXELS_SIDE:
                    return problem(
                        f"image is {width}x{height}, larger than "
                        f"{MAX_PIXELS_SIDE}x{MAX_PIXELS_SIDE} pixels"
                    )
                if width <= TRACKING_PIXEL_SIDE and height <= TRACKING_PIXEL_SIDE:
                    return problem(f"image is {width}x{height}: tiny images are not allowed")
                frames = int(getattr(image, "n_frames", 1))
                if frames > MAX_FRAMES:
                    return problem(f"more than {MAX_FRAMES} animation frames")
                for frame in range(frames):
                    image.seek(frame)
                    image.load()
            # WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process, so
            # load() above pads a cut-off image silently; check the ends ourselves.
            if expected == "PNG":
                with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                    image.verify()  # every chunk and its CRC, up to IEND
            elif not data.endswith(_TRAILERS[expected]):
                return problem(f"{expected} image is truncated (no end marker)")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return problem("image is too large when decoded (decompression bomb?)")
        except UnidentifiedImageError:
            return problem(f"not a readable {expected} image")
        except Exception as exc:  # Pillow on hostile input: any failure is a rejection
            return problem(f"cannot decode image ({type(exc).__name__})")
    return []
