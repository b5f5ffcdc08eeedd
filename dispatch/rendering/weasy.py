"""WeasyPrint, imported in one place with its one import-time warning handled.

Without the system library libharfbuzz-subset, WeasyPrint 70 warns at import
(``DeprecationWarning``: a future version will require it) and subsets fonts with
fontTools instead, which is fine for us. That warning, and only that one, is
silenced here; every other warning still surfaces (pytest turns them into errors).
Every module of this package imports WeasyPrint through this one.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message="HarfBuzz-Subset will be required",
        category=DeprecationWarning,
    )
    # WeasyPrint ships no type information; everything from it is Any here.
    from weasyprint import CSS, HTML  # type: ignore[import-untyped]
    from weasyprint.formatting_structure import boxes  # type: ignore[import-untyped]
    from weasyprint.text.ffi import (  # type: ignore[import-untyped]
        ffi,
        fontconfig,
        gobject,
        pangoft2,
    )
    from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]
    from weasyprint.urls import (  # type: ignore[import-untyped]
        URLFetcher,
        URLFetcherResponse,
    )

__all__ = [
    "CSS",
    "HTML",
    "FontConfiguration",
    "URLFetcher",
    "URLFetcherResponse",
    "boxes",
    "ffi",
    "fontconfig",
    "gobject",
    "pangoft2",
]
