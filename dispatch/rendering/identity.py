"""What every letter and e-mail says about us: who it is from, and where its links lead.

:class:`LinkSettings` is made from the settings wherever letters and e-mails are built
(the campaign jobs, previews, the member pages, the demo). It lives in rendering
because rendering is the lowest stage that lays out what it describes (the letters'
sender block, the e-mails' From and unsubscribe links); the stages above take it from
here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit

from dispatch.config import Settings
from dispatch.register.tokens import LinkPurpose
from dispatch.rendering.email import DEMO_EMAIL, EmailSettings
from dispatch.rendering.layout import DEMO_SENDER, SenderInfo


@dataclass(frozen=True)
class LinkSettings:
    """Where member links point (``DISPATCH_PUBLIC_URL``, ``DISPATCH_UNSUBSCRIBE_MAILTO``)
    and who the letters and e-mails come from (``DISPATCH_SENDER_*``, ``DISPATCH_MAIL_*``,
    ``DISPATCH_ENVELOPE_SENDER``): everything a letter or e-mail says about us.

    Made from the settings by :meth:`from_settings` wherever letters and e-mails are
    built (campaign jobs, previews, the member pages, the demo); the defaults are the
    demo cooperative's.
    """

    public_url: str
    mailto: str
    #: The sender block; :meth:`sender` adds the letter page and QR code text.
    letterhead: SenderInfo = DEMO_SENDER
    #: From, Message-ID domain and envelope; :meth:`email_settings` adds the links.
    mail: EmailSettings = DEMO_EMAIL

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSettings:
        letterhead = SenderInfo(
            name=settings.sender_name,
            unit=settings.sender_unit,
            street=settings.sender_street,
            postcode=settings.sender_postcode,
            post_town=settings.sender_post_town,
            phone=settings.sender_phone,
            web="",  # sender() puts the letter page here
        )
        mail = EmailSettings(
            from_address=settings.mail_from,
            from_name=settings.mail_from_name,
            unsubscribe_url="",  # email_settings() puts the links here
            unsubscribe_mailto=settings.unsubscribe_mailto,
            domain=settings.mail_from.rsplit("@", 1)[1],
            envelope_sender=settings.envelope_sender,
        )
        return cls(settings.public_url.rstrip("/"), settings.unsubscribe_mailto, letterhead, mail)

    @property
    def letter_page(self) -> str:
        """Where a member types the code of a letter."""
        return f"{self.public_url}/k"

    @property
    def short_address(self) -> str:
        """The letter page as printed, without the scheme ("esimerkki.fi/k")."""
        return self.letter_page.split("://", 1)[1]

    @property
    def code_url(self) -> str:
        """The QR code's text before the code. Scheme and host in capitals keep the QR
        code in its compact alphanumeric mode (both are case-insensitive); the
        service answers ``/K/`` as well as ``/k/``."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme.upper()}://{parts.netloc.upper()}{parts.path}/K/"

    def email_settings(self) -> EmailSettings:
        """Who the e-mails come from, and their unsubscribe and centre links."""
        return dataclasses.replace(
            self.mail,
            unsubscribe_url=f"{self.public_url}/u/",
            unsubscribe_mailto=self.mailto,
            centre_url=f"{self.public_url}/p/",
        )

    def sender(self) -> SenderInfo:
        """The letters' sender block, with the letter page and the QR code's address."""
        return dataclasses.replace(self.letterhead, web=self.short_address, code_url=self.code_url)

    def url(self, purpose: LinkPurpose, value: str) -> str:
        """The address of a link the member is sent."""
        path = {
            LinkPurpose.UNSUBSCRIBE: "u",
            LinkPurpose.CENTRE: "p",
            LinkPurpose.LETTER: "k",
            LinkPurpose.CONFIRM: "c",
        }[purpose]
        return f"{self.public_url}/{path}/{value}"


DEMO_LINKS = LinkSettings(
    DEMO_EMAIL.unsubscribe_url.removesuffix("/u/"), DEMO_EMAIL.unsubscribe_mailto
)
