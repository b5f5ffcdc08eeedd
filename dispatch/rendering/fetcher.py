"""The only way WeasyPrint may load anything: an in-memory, allow-listed URL fetcher.

Invariant 5 says partner templates and assets cannot read files or reach the network.
WeasyPrint resolves every ``<img>``, stylesheet, ``@import``, ``@font-face``, ``url()``,
SVG ``<image>``/``<use>`` and attachment through its ``url_fetcher``, so this fetcher
is the whole boundary. It serves exactly two in-memory mappings and nothing else:

``bundle:///assets/...``
    the creative bundle's own ``assets/`` files (the body's base URL, so a partner's
    relative ``assets/logo.png`` lands here);
``system:///...``
    the system layout's files (``letter/letter.css``, ``fonts/NotoSans-Regular.ttf``).

Everything else is refused without being opened: ``file:`` in any spelling, ``http(s)``
to anywhere (no socket is ever created, so there is no redirect to follow), other
schemes, paths that are not an exact key of a mapping (``..`` has nowhere to escape
to: there is no file system behind the mapping), and ``data:`` URLs above
:data:`MAX_DATA_BYTES`. Refusals are recorded in :attr:`AssetFetcher.refused` so
that rendering can fail loudly instead of printing a letter with a hole in it.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from dispatch.rendering.weasy import URLFetcher, URLFetcherResponse

BUNDLE_SCHEME = "bundle"
SYSTEM_SCHEME = "system"
BUNDLE_BASE = f"{BUNDLE_SCHEME}:///"
SYSTEM_BASE = f"{SYSTEM_SCHEME}:///"

#: Only files under this folder of a bundle are ever served (not its templates).
BUNDLE_ASSET_PREFIX = "assets/"
#: A ``data:`` URL decoding to more than this is refused (a bundle has real files).
MAX_DATA_BYTES = 64 * 1024
#: Longer URLs are refused before any parsing.
MAX_URL_CHARS = 4 * MAX_DATA_BYTES
#: How many fetches one document may make; more means a template is looping.
MAX_FETCHES = 500

# urllib.parse only resolves relative references (``../x.png`` from a stylesheet,
# ``assets/a.png`` from the base URL) for schemes it knows to be hierarchical. These
# module lists are urllib's documented extension point; adding to them changes
# nothing for any other scheme.
for _scheme in (BUNDLE_SCHEME, SYSTEM_SCHEME):
    for _registry in (urllib.parse.uses_relative, urllib.parse.uses_netloc):
        if _scheme not in _registry:
            _registry.append(_scheme)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA = re.compile(r"^data:(?P<type>[^,;]*)(?P<params>(?:;[^,;]*)*?)(?P<b64>;base64)?,", re.I)

CONTENT_TYPES: Mapping[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "css": "text/css",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "woff": "font/woff",
    "woff2": "font/woff2",
}


class FetchRefused(ValueError):
    """A URL outside the allow-list; WeasyPrint catches it and leaves a hole."""


def content_type(path: str) -> str:
    """The media type of an asset, from its extension (unknown: octet-stream)."""
    return CONTENT_TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")


class AssetFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    """Serves ``bundle:///`` and ``system:///`` from memory; refuses everything else.

    ``bundle`` maps bundle-relative paths (``assets/logo.png``) to bytes; only the
    ``assets/`` entries are served. ``system`` maps system paths (``fonts/...``).
    """

    def __init__(
        self,
        bundle: Mapping[str, bytes] | None = None,
        system: Mapping[str, bytes] | None = None,
    ) -> None:
        # No protocol is allowed to the base class's opener and redirects are off, so
        # even a future WeasyPrint that bypassed fetch() could not reach anything.
        super().__init__(allowed_protocols=frozenset(), allow_redirects=False, timeout=0.001)
        self._bundle = {
            path: data
            for path, data in (bundle or {}).items()
            if path.startswith(BUNDLE_ASSET_PREFIX)
        }
        self._system = dict(system or {})
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        try:
            body, media_type = self._resolve(url)
        except FetchRefused:
            self.refused.append(_short(url))
            raise
        self.served.append(_short(url))
        return URLFetcherResponse(url, body, {"Content-Type": media_type})

    def open(self, url: Any, data: Any = None, timeout: Any = None) -> URLFetcherResponse:
        # OpenerDirector.open is public on the base class; route it through the policy.
        return self.fetch(url if isinstance(url, str) else url.full_url)

    def _resolve(self, url: str) -> tuple[bytes, str]:
        if len(self.served) + len(self.refused) >= MAX_FETCHES:
            raise FetchRefused(f"more than {MAX_FETCHES} fetches")
        if len(url) > MAX_URL_CHARS:
            raise FetchRefused("URL too long")
        match = _SCHEME.match(url)
        scheme = match[1].lower() if match else ""
        if scheme == "data":
            return _data_url(url)
        if scheme == BUNDLE_SCHEME:
            return self._lookup(self._bundle, url)
        if scheme == SYSTEM_SCHEME:
            return self._lookup(self._system, url)
        raise FetchRefused(f"scheme {scheme or '(relative)'!r} is not served")

    @staticmethod
    def _lookup(files: Mapping[str, bytes], url: str) -> tuple[bytes, str]:
        parts = urlsplit(url)
        if parts.netloc or parts.query:
            raise FetchRefused("host or query in an asset URL")
        try:
            path = unquote_to_bytes(parts.path).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FetchRefused("asset path is not UTF-8") from exc
        if not path.startswith("/") or "\\" in path or "\x00" in path:
            raise FetchRefused("malformed asset path")
        segments = path[1:].split("/")
        if any(seg in {"", ".", ".."} for seg in segments):
            raise FetchRefused("asset path with empty, '.' or '..' segments")
        key = "/".join(segments)
        if key not in files:
            raise FetchRefused("no such asset")
        return files[key], content_type(key)


def _data_url(url: str) -> tuple[bytes, str]:
    match = _DATA.match(url)
    if not match:
        raise FetchRefused("malformed data: URL")
    payload = url[match.end() :]  # at most MAX_URL_CHARS: checked before parsing
    try:
        raw = unquote_to_bytes(payload)
        data = base64.b64decode(raw, validate=False) if match["b64"] else raw
    except (binascii.Error, ValueError) as exc:
        raise FetchRefused("undecodable data: URL") from exc
    if len(data) > MAX_DATA_BYTES:
        raise FetchRefused(f"data: URL above {MAX_DATA_BYTES} bytes")
    return data, (match["type"] or "text/plain").strip().lower()


def _short(url: str) -> str:
    """A URL shortened for messages (data: URLs can be long)."""
    return url if len(url) <= 120 else url[:117] + "..."
