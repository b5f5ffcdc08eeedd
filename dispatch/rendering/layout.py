"""The system letter layout, laid out with WeasyPrint (never per letter).

A letter page is two documents drawn on top of each other by the batch engine:

* the **frame** (``templates/letter/layout.html.j2`` + ``letter.css``): masthead,
  window with the return-address line and the empty address box, sender block and
  the objection notice, in the member's language. No partner HTML or CSS is ever in
  this document, so nothing a partner writes can hide, cover or restyle the notice.
* the **body**: the partner's rendered ``letter.html.j2`` in a document whose pages
  are exactly the frame's body boxes (``#body-first``, ``#body-next``). The batch
  engine draws each body page as a Form XObject whose bounding box clips it to its
  box, so however the creative positions, transforms or overflows its content, it
  cannot paint outside that box.

The geometry lives in ``letter.css`` only; this module reads the boxes back from the
laid-out frame.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from dispatch import config
from dispatch.creatives.context import PLACEHOLDER_ATTRIBUTE, PLACEHOLDER_CLASS
from dispatch.db.types import Language
from dispatch.errors import InputError
from dispatch.rendering.fetcher import BUNDLE_BASE, SYSTEM_BASE, AssetFetcher
from dispatch.rendering.fonts import font_files, isolated_font_config
from dispatch.rendering.weasy import CSS, HTML

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

#: CSS pixels (WeasyPrint's unit) to PDF points.
PX = 0.75
MM = 72 / 25.4
A4 = (210 * MM, 297 * MM)

#: Width of a personal-field box, in ems of the text around it.
FIELD_WIDTH_EM = 10
#: ... and of the home store's box, which holds names of up to ~32 characters.
STORE_WIDTH_EM = 18
#: A creative body longer than this is refused before layout (invariant 5).
MAX_BODY_CHARS = 256 * 1024


class CreativeRejected(InputError):
    """The creative body cannot be laid out safely (refused URL, bad field, size)."""


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in PDF points, origin at the bottom-left corner of the page."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> float:
        return self.y + self.height

    def contains(self, other: Rect, slack: float = 0.5) -> bool:
        return (
            other.x >= self.x - slack
            and other.y >= self.y - slack
            and other.x + other.width <= self.x + self.width + slack
            and other.top <= self.top + slack
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderInfo:
    """The cooperative that sends the letter, and where a member objects."""

    name: str
    street: str
    postcode: str
    post_town: str
    phone: str
    #: Where to forbid direct marketing on the web, without scheme ("example.fi/k"):
    #: the preference centre's page for the letter's code.
    web: str
    unit: str | None = None
    #: The advertising partner, named in the sender block and the notice.
    partner: str | None = None
    #: What the QR code in the notice says before the letter's code
    #: ("HTTPS://EXAMPLE.FI/K/"); None: the notice has no code and no QR code.
    code_url: str | None = None

    @property
    def return_address(self) -> str:
        """The one-line return address printed small at the top of the window."""
        return f"{self.name}, {self.street}, {self.postcode} {self.post_town.upper()}"


#: The demo cooperative (the embedded defaults of the DISPATCH_SENDER_* settings);
#: campaigns, previews and the demo pass the configured sender instead
#: (:meth:`dispatch.rendering.identity.LinkSettings.from_settings`).
DEMO_SENDER = SenderInfo(
    name=config.DEFAULT_SENDER_NAME,
    unit=config.DEFAULT_SENDER_UNIT,
    street=config.DEFAULT_SENDER_STREET,
    postcode=config.DEFAULT_SENDER_POSTCODE,
    post_town=config.DEFAULT_SENDER_POST_TOWN,
    phone=config.DEFAULT_SENDER_PHONE,
    # The demo's member links lead to the local `dispatch serve` (DISPATCH_PUBLIC_URL).
    web="127.0.0.1:8000/k",
    code_url="HTTP://127.0.0.1:8000/K/",
)


@functools.cache
def system_env() -> Environment:
    """Jinja environment for the system templates (``templates/``), HTML autoescaped."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html.j2"], default_for_string=True, default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@functools.cache
def system_assets() -> Mapping[str, bytes]:
    """Everything ``system:///`` serves: the layouts' stylesheets and the fonts.

    ``export.css`` is the member's postal data export (:mod:`dispatch.members.letter`).
    """
    return {
        **{
            f"letter/{name}": (TEMPLATES_DIR / "letter" / name).read_bytes()
            for name in ("letter.css", "export.css")
        },
        **font_files(),
    }


@dataclass(frozen=True)
class Frame:
    """A laid-out frame: its two-page PDF (first, following) and its boxes."""

    pdf: bytes
    address: Rect
    body_first: Rect
    body_next: Rect
    #: The first page's boxes for the letter's code and QR code (None without a code).
    code: Rect | None = None
    qr: Rect | None = None


def _rect(page: Any, anchor: str) -> Rect:
    x1, y1, x2, y2 = page.anchors[anchor]
    height = page.height * PX
    return Rect(x1 * PX, height - y2 * PX, (x2 - x1) * PX, (y2 - y1) * PX)


@functools.lru_cache(maxsize=16)
def render_frame(language: str, sender: SenderInfo) -> Frame:
    """Lay out the system frame for one language and sender (cached)."""
    lang = Language(language).value
    html = (
        system_env()
        .get_template("letter/layout.html.j2")
        .render(language=lang, sender=sender, return_address=sender.return_address)
    )
    fetcher = AssetFetcher(system=system_assets())
    document = HTML(string=html, base_url=SYSTEM_BASE, url_fetcher=fetcher).render(
        font_config=isolated_font_config()
    )
    if fetcher.refused or len(document.pages) != 2:
        raise RuntimeError(f"the letter layout is broken: {fetcher.refused or document.pages}")
    first, following = document.pages
    return Frame(
        pdf=document.write_pdf(),
        address=_rect(first, "address"),
        body_first=_rect(first, "body-first"),
        body_next=_rect(following, "body-next"),
        code=_rect(first, "member-code") if sender.code_url else None,
        qr=_rect(first, "member-qr") if sender.code_url else None,
    )


@dataclass(frozen=True)
class BodyLayout:
    """A laid-out creative body: the WeasyPrint document, its PDF, refused URLs."""

    document: Any
    pdf: bytes
    refused: tuple[str, ...]


def layout_body(
    body_html: str, assets: Mapping[str, bytes], language: str, frame: Frame
) -> BodyLayout:
    """Lay out a creative body into the frame's body boxes, whatever it refers to.

    Anything outside the bundle's assets is refused by the fetcher and listed in
    :attr:`BodyLayout.refused`; :func:`render_body` turns that into an error.
    """
    if len(body_html) > MAX_BODY_CHARS:
        raise CreativeRejected(f"the letter body is over {MAX_BODY_CHARS} characters")
    env = system_env()
    # The body is the creative's own template output, rendered in the sandbox with
    # autoescape: it is HTML by contract, so it goes in as markup.
    body = Markup(body_html)  # noqa: S704
    html = env.get_template("letter/body.html.j2").render(
        language=Language(language).value, body=body
    )
    user_css = env.get_template("letter/body.css.j2").render(
        first_width=f"{frame.body_first.width:.3f}",
        first_height=f"{frame.body_first.height:.3f}",
        next_width=f"{frame.body_next.width:.3f}",
        next_height=f"{frame.body_next.height:.3f}",
        placeholder=PLACEHOLDER_CLASS,
        attribute=PLACEHOLDER_ATTRIBUTE,
        field_width_em=FIELD_WIDTH_EM,
        store_width_em=STORE_WIDTH_EM,
    )
    fonts = isolated_font_config()
    fetcher = AssetFetcher(bundle=assets, system=system_assets())
    system_rules = CSS(
        string=user_css, base_url=SYSTEM_BASE, url_fetcher=fetcher, font_config=fonts
    )
    document = HTML(string=html, base_url=BUNDLE_BASE, url_fetcher=fetcher).render(
        stylesheets=[system_rules], font_config=fonts
    )
    pdf = document.write_pdf()  # attachments are fetched here, so collect refusals after
    return BodyLayout(document, pdf, tuple(fetcher.refused))


def render_body(
    body_html: str, assets: Mapping[str, bytes], language: str, frame: Frame
) -> BodyLayout:
    """:func:`layout_body`, refusing a body that asked for anything outside its bundle.

    Raises :class:`CreativeRejected`: the letter would otherwise print with a hole
    in it, and a creative reaching for files or the network fails validation.
    """
    body = layout_body(body_html, assets, language, frame)
    if body.refused:
        shown = ", ".join(sorted(set(body.refused))[:5])
        raise CreativeRejected(f"the letter body refers to files outside its bundle: {shown}")
    return body
