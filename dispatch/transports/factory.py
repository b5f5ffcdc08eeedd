"""Pick the outbox or mailer implementation that a URL names.

The interfaces (:mod:`.outbox`, :mod:`.mailer`) know nothing of their implementations;
the implementations import their interface; only this module imports both, so there
is no import circle between an interface and what plugs into it.

=======================================  ===========================================
``file://PATH``                          :class:`~.outbox.LocalOutbox`
``s3://BUCKET/PREFIX``                   :class:`~.outbox_s3.S3Outbox`
``maildir://PATH``                       :class:`~.mailer_maildir.MaildirMailer`
``smtp://user:pass@host:587``,           :class:`~.mailer_smtp.SmtpPool`
``smtps://host:465``
``ses://eu-north-1``                     :class:`~.mailer_ses.SesMailer`
=======================================  ===========================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dispatch.errors import InputError
from dispatch.transports.mailer import Mailer
from dispatch.transports.outbox import LocalOutbox, Outbox


def outbox_from_url(url: str, *, s3_endpoint: str | None = None) -> Outbox:
    """The outbox for ``file://PATH`` or ``s3://BUCKET/PREFIX``.

    ``s3_endpoint`` (or ``DISPATCH_S3_ENDPOINT_URL``) points S3 at a compatible store.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        # "file://./var/outbox" keeps its relative "./"; netloc is then ".".
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise InputError(f"outbox URL has no path: {url!r}")
        return LocalOutbox(Path(path))
    if parts.scheme == "s3":
        # Imported here: boto3 takes a while to import and only S3 deployments need it.
        from dispatch.transports.outbox_s3 import S3Outbox

        return S3Outbox.from_url(url, endpoint_url=s3_endpoint)
    raise InputError(f"unsupported outbox URL {url!r}; use file:// or s3://")


def mailer_from_url(url: str, **opts: Any) -> Mailer:
    """The mailer that ``url`` (``DISPATCH_MAILER_URL``) names.

    ``opts`` go to the implementation's constructor and override what the URL says
    (e.g. ``ssl_context=`` or ``pool_size=`` for SMTP, ``endpoint_url=`` for SES);
    see each module for the URL query parameters it understands.
    """
    scheme = urlsplit(url).scheme
    if scheme == "maildir":
        from dispatch.transports.mailer_maildir import MaildirMailer

        return MaildirMailer.from_url(url, **opts)
    if scheme in {"smtp", "smtps"}:
        from dispatch.transports.mailer_smtp import SmtpPool

        return SmtpPool.from_url(url, **opts)
    if scheme == "ses":
        from dispatch.transports.mailer_ses import SesMailer

        return SesMailer.from_url(url, **opts)
    raise InputError(
        f"unsupported mailer scheme {scheme or '(none)'!r}; use maildir, smtp, smtps or ses",
        where="DISPATCH_MAILER_URL",
    )
