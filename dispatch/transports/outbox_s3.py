"""The outbox in an S3 bucket (production), through boto3.

Keys are ``PREFIX/<batch_id>/<file>``. S3 has no rename, so visibility rests on order:
the three batch files are put first and ``COMPLETE`` only after all of them succeeded.
An error half-way raises :class:`OperationError` with no marker written.

The endpoint comes from the ``endpoint_url`` argument or ``DISPATCH_S3_ENDPOINT_URL``
(MinIO, Ceph, or a test server); credentials come from boto3's usual chain.
"""

from __future__ import annotations

import io
import os
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dispatch import batchformat as bf
from dispatch.errors import InputError, OperationError
from dispatch.transports.outbox import BatchExists, Inventory

ENDPOINT_VARIABLE = "DISPATCH_S3_ENDPOINT_URL"

# State our own limits instead of inheriting boto3's: a dead endpoint should fail the
# job within seconds, and the job's own retry policy decides what happens next.
_CLIENT_CONFIG = Config(
    connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}
)


def endpoint_from_env(env: dict[str, str] | None = None) -> str | None:
    """``DISPATCH_S3_ENDPOINT_URL``, or None for AWS itself."""
    source = os.environ if env is None else env
    value = source.get(ENDPOINT_VARIABLE, "").strip()
    if value and urlsplit(value).scheme not in {"http", "https"}:
        raise InputError(f"{ENDPOINT_VARIABLE}: expected an http(s) URL, not {value!r}")
    return value or None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return str(exc)


class S3Outbox:
    """An outbox under ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.endpoint_url = endpoint_url
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=_CLIENT_CONFIG)

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3Outbox:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InputError(f"expected s3://bucket/prefix, not {url!r}")
        return cls(parts.netloc, parts.path, endpoint_url=endpoint_url or endpoint_from_env())

    def _key(self, batch_id: str, name: str) -> str:
        try:
            bf.validate_batch_id(batch_id)
        except bf.BatchFormatError as exc:
            raise InputError(str(exc)) from exc
        return f"{self.prefix}{batch_id}/{name}"

    def _fail(self, action: str, exc: Exception) -> OperationError:
        return OperationError(f"cannot {action}: {_reason(exc)}", where=self.url)

    def _put(self, key: str, body: BinaryIO | bytes) -> None:
        # upload_fileobj streams large bodies in parts; small ones are a single PUT.
        stream = io.BytesIO(body) if isinstance(body, bytes) else body
        self._client.upload_fileobj(stream, self.bucket, key)

    def _exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._fail(f"check {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"check {key}", exc) from exc
        return True

    def put_batch(
        self,
        batch_id: str,
        encrypted_pdf: BinaryIO | bytes,
        manifest: bytes,
        signature: bytes,
    ) -> None:
        if self.is_complete(batch_id):
            raise BatchExists(f"batch {batch_id} is already in the outbox", where=self.url)
        try:
            self._put(self._key(batch_id, bf.ENCRYPTED_PDF), encrypted_pdf)
            self._put(self._key(batch_id, bf.MANIFEST), manifest)
            self._put(self._key(batch_id, bf.SIGNATURE), signature)
            self._put(self._key(batch_id, bf.COMPLETE), bf.complete_marker(manifest))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"write batch {batch_id}", exc) from exc

    def is_complete(self, batch_id: str) -> bool:
        return self._exists(self._key(batch_id, bf.COMPLETE))

    def get(self, batch_id: str, name: str) -> bytes:
        key = self._key(batch_id, name)
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"read {batch_id}/{name}", exc) from exc
        return body

    def _list(self, prefix: str, *, delimiter: str | None = None) -> tuple[list[str], list[str]]:
        """(object keys, common prefixes) under ``prefix``, across all pages."""
        keys: list[str] = []
        folders: list[str] = []
        args: dict[str, str] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = delimiter
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(**args):
                keys.extend(item["Key"] for item in page.get("Contents", []))
                folders.extend(item["Prefix"] for item in page.get("CommonPrefixes", []))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"list {prefix or '/'}", exc) from exc
        return keys, folders

    def list_batches(self) -> list[str]:
        _, folders = self._list(self.prefix, delimiter="/")
        names = (f[len(self.prefix) :].rstrip("/") for f in folders)
        return sorted(n for n in names if n != bf.RETURNS_DIR)

    def list_complete(self) -> list[str]:
        keys, _ = self._list(self.prefix)
        ids = set()
        for key in keys:
            batch_id, _, name = key[len(self.prefix) :].partition("/")
            if name == bf.COMPLETE and batch_id != bf.RETURNS_DIR:
                ids.add(batch_id)
        return sorted(ids)

    def inventory(self) -> Inventory:
        keys, _ = self._list(self.prefix)
        batches: set[str] = set()
        acked: set[str] = set()
        for key in keys:
            batch_id, slash, name = key[len(self.prefix) :].partition("/")
            if not slash or batch_id == bf.RETURNS_DIR:
                continue
            batches.add(batch_id)
            if name == bf.ACK:
                acked.add(batch_id)
        return Inventory(frozenset(batches), frozenset(acked))

    def write_ack(self, batch_id: str, ack: bytes) -> None:
        try:
            self._put(self._key(batch_id, bf.ACK), ack)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"write ACK for {batch_id}", exc) from exc

    def read_ack(self, batch_id: str) -> bytes | None:
        if not self._exists(self._key(batch_id, bf.ACK)):
            return None
        return self.get(batch_id, bf.ACK)

    def delete(self, batch_id: str) -> None:
        # COMPLETE first: from then on nobody treats the remains as a batch.
        complete = self._key(batch_id, bf.COMPLETE)
        keys, _ = self._list(self._key(batch_id, ""))
        try:
            self._client.delete_object(Bucket=self.bucket, Key=complete)
            rest = [{"Key": k} for k in keys if k != complete]
            for start in range(0, len(rest), 1000):
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": rest[start : start + 1000]}
                )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"delete {batch_id}", exc) from exc

    def list_returns(self) -> list[str]:
        base = f"{self.prefix}{bf.RETURNS_DIR}/"
        keys, _ = self._list(base)
        return sorted(k[len(base) :] for k in keys if k.endswith(".json"))

    def read_return(self, name: str) -> bytes:
        if "/" in name:
            raise InputError(f"invalid returns file name {name!r}")
        key = f"{self.prefix}{bf.RETURNS_DIR}/{name}"
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"read {bf.RETURNS_DIR}/{name}", exc) from exc
        return body

    def delete_return(self, name: str) -> None:
        if "/" in name:
            raise InputError(f"invalid returns file name {name!r}")
        key = f"{self.prefix}{bf.RETURNS_DIR}/{name}"
        try:
            # Deleting a missing key succeeds in S3: a second delete is harmless.
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"delete {bf.RETURNS_DIR}/{name}", exc) from exc
