"""Amazon SES mailer (API v2), for ``DISPATCH_MAILER_URL=ses://REGION``.

Each message goes as raw MIME through ``sesv2.send_email``, unchanged, with the
envelope recipient as the only destination. Credentials come from boto3's usual
chain (environment, shared config, instance role); ``DISPATCH_SES_ENDPOINT_URL``
points the client elsewhere (a VPC endpoint, or a moto server in tests).

How SES answers maps onto :class:`SendResult`:

* ``MessageRejected`` (the message or recipient is refused, e.g. a known-bad
  address or content) and ``BadRequestException`` → ``failed``;
* throttling, a paused account, HTTP 5xx, connection errors, timeouts → ``retry``
  (after botocore's own short retries, which ``max_attempts`` bounds);
* anything else SES refuses (an unverified sending domain, a missing permission) is
  about our set-up, not the recipient → ``retry``, so nobody is marked failed for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dispatch.errors import InputError
from dispatch.transports.mailer import SendResult, log_outcome

ENDPOINT_VARIABLE = "DISPATCH_SES_ENDPOINT_URL"
_PERMANENT = frozenset({"MessageRejected", "BadRequestException"})


class SesMailer:
    """Sends through one boto3 ``sesv2`` client (boto3 clients are thread-safe)."""

    def __init__(
        self,
        region: str,
        *,
        endpoint_url: str | None = None,
        workers: int = 8,
        timeout: float = 30.0,
        max_attempts: int = 3,
        configuration_set: str | None = None,
    ) -> None:
        self.region = region
        self.workers = workers
        self.configuration_set = configuration_set
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            # One HTTP connection per worker thread, so that they do not queue.
            max_pool_connections=max(10, workers),
        )
        self._client: Any = boto3.session.Session().client(
            "sesv2", region_name=region, endpoint_url=endpoint_url, config=config
        )

    @classmethod
    def from_url(cls, url: str, **opts: Any) -> SesMailer:
        """``ses://REGION``; the endpoint comes from ``DISPATCH_SES_ENDPOINT_URL``."""
        parts = urlsplit(url)
        region = parts.netloc
        if parts.scheme != "ses" or not region or parts.path.strip("/"):
            raise InputError(
                f"expected ses://REGION (e.g. ses://eu-north-1), not {url!r}",
                where="DISPATCH_MAILER_URL",
            )
        opts.setdefault("endpoint_url", os.environ.get(ENDPOINT_VARIABLE, "").strip() or None)
        return cls(region, **opts)

    def send(self, envelope_from: str, recipient: str, message: bytes) -> SendResult:
        request: dict[str, Any] = {
            "FromEmailAddress": envelope_from,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": message}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self._client.send_email(**request)
        except ClientError as exc:
            return _classify(exc)
        except BotoCoreError as exc:  # connection refused, timeouts, bad credentials file
            return SendResult.retry(f"SES unreachable: {exc}")
        message_id = str(response.get("MessageId", ""))
        return SendResult.sent(f"accepted by SES as {message_id}", message_id=message_id or None)

    def send_many(
        self, items: Iterable[tuple[str, str, bytes]], *, workers: int | None = None
    ) -> list[SendResult]:
        """Send concurrently: each request is one HTTPS round trip to SES."""
        batch = list(items)
        workers = max(1, min(workers or self.workers, len(batch)))
        if workers == 1:
            results = [self.send(*item) for item in batch]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="ses") as executor:
                results = list(executor.map(lambda item: self.send(*item), batch))
        log_outcome("ses", results)
        return results

    def close(self) -> None:
        self._client.close()


def _classify(exc: ClientError) -> SendResult:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    reason = f"{code}: {error.get('Message', '')}".rstrip(": ")
    if code in _PERMANENT:
        return SendResult.failed(reason)
    return SendResult.retry(reason)
