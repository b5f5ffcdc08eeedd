"""Rendering: letters for the print house and e-mails for the mailer.

Letters (see docs/rendering.md):

* :func:`render_variant` lays out one creative body in one language with WeasyPrint,
  once, inside the system layout (window, sender block, objection notice);
* :func:`write_batch` streams a batch PDF of thousands of letters that all reuse
  their variant's pages and stamp the address and personal fields into reserved
  boxes, in postal presort order, returning a :class:`BatchIndex`;
* :func:`render_single_letter` is the same path for one letter (previews);
* :func:`preflight` lists what stops a PDF from being printed.

E-mail: :class:`EmailBuilder` / :func:`build_email` make one MIME message per member
with the system shell, inline images and RFC 8058 one-click unsubscribe.

Everything WeasyPrint loads goes through :class:`AssetFetcher`, which serves only
the bundle's own assets and the system layout's files (invariant 5).
"""

from dispatch.rendering.batch import (
    BatchIndex,
    Letter,
    LetterPages,
    render_single_letter,
    write_batch,
)
from dispatch.rendering.email import (
    EmailBuilder,
    EmailSettings,
    build_email,
    message_id,
    unsubscribe_token,
    verify_unsubscribe_token,
)
from dispatch.rendering.fetcher import AssetFetcher, FetchRefused
from dispatch.rendering.fit import TextDoesNotFit
from dispatch.rendering.fonts import UnsupportedCharacter
from dispatch.rendering.layout import DEMO_SENDER, CreativeRejected, SenderInfo
from dispatch.rendering.postal import AddressError, Recipient, address_lines, presort_key
from dispatch.rendering.preflight import preflight
from dispatch.rendering.variant import Variant, render_variant

__all__ = [
    "DEMO_SENDER",
    "AddressError",
    "AssetFetcher",
    "BatchIndex",
    "CreativeRejected",
    "EmailBuilder",
    "EmailSettings",
    "FetchRefused",
    "Letter",
    "LetterPages",
    "Recipient",
    "SenderInfo",
    "TextDoesNotFit",
    "UnsupportedCharacter",
    "Variant",
    "address_lines",
    "build_email",
    "message_id",
    "preflight",
    "presort_key",
    "render_single_letter",
    "render_variant",
    "unsubscribe_token",
    "verify_unsubscribe_token",
    "write_batch",
]
