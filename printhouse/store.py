"""Reading and answering the dispatcher's outbox from the print house's side.

This is deliberately separate from the dispatcher's own outbox code: the print house
runs this tool at another company, with nothing of the dispatcher installed but the
batch format. It only needs to list complete batches, read their files and write
acknowledgements and returns reports.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from dispatch import batchformat as bf

ENDPOINT_VARIABLES = ("PRINTHOUSE_S3_ENDPOINT_URL", "DISPATCH_S3_ENDPOINT_URL")


class StoreError(Exception):
    """The outbox could not be read or written."""


class Store(Protocol):
    url: str

    def list_complete(self) -> list[str]: ...

    def exists(self, batch_id: str, name: str) -> bool: ...

    def read(self, batch_id: str, name: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""

    def write(self, batch_id: str, name: str, data: bytes) -> None: ...

    def write_return(self, name: str, data: bytes) -> None: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root.as_posix()}"

    def list_complete(self) -> list[str]:
        if not self.root.is_dir():
            raise StoreError(f"{self.url}: no such folder")
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.name != bf.RETURNS_DIR and (p / bf.COMPLETE).is_file()
        )

    def exists(self, batch_id: str, name: str) -> bool:
        return (self.root / batch_id / name).is_file()

    def read(self, batch_id: str, name: str) -> bytes | None:
        try:
            return (self.root / batch_id / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read {batch_id}/{name}: {exc}") from exc

    def _write(self, folder: Path, name: str, data: bytes) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / name)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot write {folder.name}/{name}: {exc}") from exc

    def write(self, batch_id: str, name: str, data: bytes) -> None:
        self._write(self.root / batch_id, name, data)

    def write_return(self, name: str, data: bytes) -> None:
        self._write(self.root / bf.RETURNS_DIR, name, data)


class S3Store:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def _call(self, action: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise StoreError(f"{self.url}: cannot {action}: {code}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"{self.url}: cannot {action}: {exc}") from exc

    def list_complete(self) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        ids = set()
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    batch_id, _, name = item["Key"][len(self.prefix) :].partition("/")
                    if name == bf.COMPLETE and batch_id != bf.RETURNS_DIR:
                        ids.add(batch_id)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"{self.url}: cannot list batches: {exc}") from exc
        return sorted(ids)

    def exists(self, batch_id: str, name: str) -> bool:
        key = f"{self.prefix}{batch_id}/{name}"
        return self._call(f"check {batch_id}/{name}", self._client.head_object, Key=key) is not None

    def read(self, batch_id: str, name: str) -> bytes | None:
        key = f"{self.prefix}{batch_id}/{name}"
        got = self._call(f"read {batch_id}/{name}", self._client.get_object, Key=key)
        if got is None:
            return None
        body: bytes = got["Body"].read()
        return body

    def write(self, batch_id: str, name: str, data: bytes) -> None:
        key = f"{self.prefix}{batch_id}/{name}"
        self._call(f"write {batch_id}/{name}", self._client.put_object, Key=key, Body=data)

    def write_return(self, name: str, data: bytes) -> None:
        key = f"{self.prefix}{bf.RETURNS_DIR}/{name}"
        self._call(f"write {bf.RETURNS_DIR}/{name}", self._client.put_object, Key=key, Body=data)


def open_store(url: str, *, s3_endpoint: str | None = None) -> Store:
    """The outbox at ``file://PATH`` or ``s3://BUCKET/PREFIX``."""
    parts = urlsplit(url)
    if parts.scheme == "file" and (parts.netloc or parts.path):
        return LocalStore(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "s3" and parts.netloc:
        endpoint = s3_endpoint
        for variable in ENDPOINT_VARIABLES:
            endpoint = endpoint or os.environ.get(variable, "").strip() or None
        return S3Store(parts.netloc, parts.path, endpoint)
    raise ValueError(f"unsupported outbox URL {url!r}; use file://PATH or s3://BUCKET/PREFIX")
