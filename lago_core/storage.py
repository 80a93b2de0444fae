"""Where uploaded files live: a local directory by default, any S3-compatible store in production.

Keys are ours (random, chosen by the service), never a client's file name; both backends still
refuse keys that could step outside their namespace, so a bug upstream cannot become a path
traversal. ``LAGO_STORAGE=s3`` works with Tencent COS, Alibaba OSS, MinIO and AWS alike: they all
speak the S3 API. They differ in addressing: OSS accepts only virtual-hosted style
(``bucket.endpoint``) and COS prefers it, while MinIO and local test servers want path style
(``endpoint/bucket``). botocore uses path style for any custom endpoint, so :func:`addressing_style`
chooses: path style for an IP address, ``localhost`` or a single-label host (a compose service
name), virtual-hosted style for a domain name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from lago_core.errors import InvalidInput, NotFound
from lago_core.logging import get_logger
from lago_core.metrics import STORAGE_FAILURES
from lago_core.settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = [
    "MEDIA_TYPES",
    "LocalStorage",
    "S3Storage",
    "Storage",
    "addressing_style",
    "check_key",
    "create_storage",
    "discard",
    "media_type",
]

AddressingStyle = Literal["path", "virtual"]

# One or more segments of safe characters, each starting with a letter or digit: no "..", no
# absolute paths, no backslashes, nothing a shell or a URL would treat specially.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99}){0,4}$")


# The only kinds of object stored, by the extension the service gives their key. A served
# object's Content-Type comes from this table: never from the client, never from sniffing.
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}


def media_type(key: str) -> str:
    """The content type an object is served with; NotFound for a key we never store."""
    dot = key.rfind(".")
    content_type = MEDIA_TYPES.get(key[dot:].lower()) if dot > 0 else None
    if content_type is None:
        raise NotFound("no such stored object")
    return content_type


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise InvalidInput("invalid storage key", code="invalid_key")
    return key


class Storage(Protocol):
    """A flat namespace of immutable objects addressed by key."""

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store ``data`` under ``key`` (replacing any object there); returns the key."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; :class:`NotFound` when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def url_for(self, key: str) -> str:
        """Where a client fetches the object."""
        ...

    async def close(self) -> None: ...


async def discard(storage: Storage, key: str) -> None:
    """Delete an object the database no longer points at. A failure leaves only an orphan file
    and is not the caller's: logged and counted (``lago_storage_failures_total``), not raised."""
    try:
        await storage.delete(key)
    except Exception:
        STORAGE_FAILURES.labels("delete").inc()
        get_logger(__name__).warning("storage.delete_failed", key=key, exc_info=True)


class LocalStorage:
    """Files under one directory, served read-only by the REST app at ``base_url``."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._base_url = base_url.rstrip("/")

    def path_for(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # Belt and braces after the key pattern: the resolved path must stay under the root.
        if not path.is_relative_to(self.root):
            raise InvalidInput("invalid storage key", code="invalid_key")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self.path_for(key)
        await asyncio.to_thread(_write_atomically, path, data)
        return key

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound("no such stored object") from None

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def url_for(self, key: str) -> str:
        return f"{self._base_url}/{check_key(key)}"

    async def close(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (the static route) see the old file or the whole new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the web server may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def addressing_style(endpoint: str) -> AddressingStyle:
    host = urlsplit(endpoint).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "path" if host == "localhost" or "." not in host else "virtual"
    return "path"


class S3Storage:
    """An S3-compatible bucket through aiobotocore; open with :meth:`open`, then :meth:`close`."""

    def __init__(
        self, client: S3Client, stack: AsyncExitStack, bucket: str, public_base_url: str
    ) -> None:
        self._client = client
        self._stack = stack
        self._bucket = bucket
        self._public_base_url = public_base_url.rstrip("/")

    @classmethod
    async def open(
        cls,
        *,
        endpoint: str,
        bucket: str,
        region: str,
        access_key: str,
        secret_key: str,
        public_base_url: str | None = None,
        style: AddressingStyle | None = None,
    ) -> S3Storage:
        style = style or addressing_style(endpoint)
        stack = AsyncExitStack()
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=AioConfig(
                    connect_timeout=5,
                    read_timeout=30,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": style},
                ),
            )
        )
        # Without a CDN or public bucket domain configured, clients fetch objects from the
        # endpoint itself, addressed as the API is; the bucket must then allow public reads.
        base = public_base_url or _bucket_url(endpoint, bucket, style)
        return cls(client, stack, bucket, base)

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        await self._client.put_object(
            Bucket=self._bucket, Key=check_key(key), Body=data, ContentType=content_type
        )
        return key

    async def get(self, key: str) -> bytes:
        try:
            response = await self._client.get_object(Bucket=self._bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound("no such stored object") from None
            raise
        async with response["Body"] as body:
            return await body.read()

    async def delete(self, key: str) -> None:
        await self._client.delete_object(Bucket=self._bucket, Key=check_key(key))

    def url_for(self, key: str) -> str:
        return f"{self._public_base_url}/{check_key(key)}"

    async def close(self) -> None:
        await self._stack.aclose()


def _bucket_url(endpoint: str, bucket: str, style: AddressingStyle) -> str:
    parts = urlsplit(endpoint.rstrip("/"))
    if style == "path":
        return f"{parts.scheme}://{parts.netloc}{parts.path}/{bucket}"
    return f"{parts.scheme}://{bucket}.{parts.netloc}{parts.path}"


async def create_storage(settings: Settings) -> Storage:
    if settings.storage_backend == "s3":
        base = settings.media_base_url
        return await S3Storage.open(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            # LAGO_MEDIA_BASE_URL as an absolute URL names the CDN or bucket domain clients use.
            public_base_url=base if base.startswith(("http://", "https://")) else None,
        )
    return LocalStorage(settings.storage_dir, settings.media_base_url)
