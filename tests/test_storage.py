"""Storage backends: safe keys and atomic writes on disk, and a real S3 round trip (moto server)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import io
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiobotocore.session import get_session
from aiohttp.test_utils import TestClient
from PIL import Image as PILImage
from yarl import URL

from lago_core.clock import ManualClock
from lago_core.container import Core, build_core
from lago_core.errors import InvalidInput, NotFound
from lago_core.settings import Settings
from lago_core.storage import LocalStorage, S3Storage, addressing_style
from lago_rest.app import create_app

from . import test_listings
from .conftest import Account
from .test_listings import SALE, image_bytes, publish, upload_form

world = test_listings.world  # the fixture, shared

Client = TestClient[Any, Any]
BUCKET = "lago-test"
KEYS = {"access_key": "testing-access", "secret_key": "testing-secret"}
BAD_KEYS = [
    "../etc/passwd",
    "/abs",
    "a/../../b",
    "a\\b",
    ".hidden",
    "",
    "a//b",
    "a" * 300,
    "空格 key",
]


async def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media", "/media/")
    assert await storage.put("li_abc.png", b"one", "image/png") == "li_abc.png"
    assert await storage.get("li_abc.png") == b"one"
    await storage.put("li_abc.png", b"two", "image/png")
    assert await storage.get("li_abc.png") == b"two"
    assert storage.url_for("li_abc.png") == "/media/li_abc.png"
    # No temporary files are left beside the object.
    assert [p.name for p in (tmp_path / "media").iterdir()] == ["li_abc.png"]
    await storage.delete("li_abc.png")
    await storage.delete("li_abc.png")  # deleting twice is fine
    with pytest.raises(NotFound):
        await storage.get("li_abc.png")


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_local_storage_refuses_unsafe_keys(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "media", "/media")
    with pytest.raises(InvalidInput):
        await storage.put(key, b"x", "image/png")
    assert _tree(tmp_path) == [tmp_path / "media"]


@pytest.mark.parametrize(
    ("endpoint", "style"),
    [
        ("https://cos.ap-guangzhou.myqcloud.com", "virtual"),  # Tencent COS
        ("https://oss-cn-hangzhou.aliyuncs.com", "virtual"),  # Alibaba OSS: virtual-hosted only
        ("http://127.0.0.1:9000", "path"),
        ("http://localhost:9000", "path"),
        ("http://minio:9000", "path"),  # a compose service name
    ],
)
async def test_addressing_style(endpoint: str, style: str) -> None:
    assert addressing_style(endpoint) == style
    storage = await S3Storage.open(endpoint=endpoint, bucket="b-1", region="ap-guangzhou", **KEYS)
    try:
        expected = endpoint.replace("://", "://b-1.") if style == "virtual" else f"{endpoint}/b-1"
        assert storage.url_for("k.png") == f"{expected}/k.png"
    finally:
        await storage.close()


def _tree(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


async def _discard(stream: asyncio.StreamReader) -> None:
    """Keep reading the server's log so a full pipe never blocks it."""
    while await stream.readline():
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def s3_endpoint() -> AsyncIterator[str]:
    """A moto S3 server on 127.0.0.1, as a subprocess, with one empty bucket."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        pytest.skip(
            "moto[server] is not installed: pip install 'moto[server]' (the dev extra has it)"
        )
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        assert proc.stderr is not None
        # moto's server logs "Running on http://..." once it listens: wait for that line.
        async with asyncio.timeout(30):
            while b"Running on" not in (line := await proc.stderr.readline()):
                if not line:
                    pytest.fail(f"moto server exited with status {await proc.wait()}")
        drain = asyncio.create_task(_discard(proc.stderr))
        async with get_session().create_client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEYS["access_key"],
            aws_secret_access_key=KEYS["secret_key"],
        ) as client:
            await client.create_bucket(Bucket=BUCKET)
        yield endpoint
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
        async with asyncio.timeout(10):
            await proc.wait()


async def test_s3_round_trip(s3_endpoint: str) -> None:
    storage = await S3Storage.open(endpoint=s3_endpoint, bucket=BUCKET, region="us-east-1", **KEYS)
    try:
        png = image_bytes()
        assert await storage.put("li_round.png", png, "image/png") == "li_round.png"
        assert await storage.get("li_round.png") == png
        assert storage.url_for("li_round.png") == f"{s3_endpoint}/{BUCKET}/li_round.png"
        await storage.delete("li_round.png")
        with pytest.raises(NotFound):
            await storage.get("li_round.png")
        for key in BAD_KEYS:
            with pytest.raises(InvalidInput):
                await storage.put(key, b"x", "text/plain")
    finally:
        await storage.close()
    cdn = await S3Storage.open(
        endpoint=s3_endpoint,
        bucket=BUCKET,
        region="us-east-1",
        public_base_url="https://img.example.cn/",
        **KEYS,
    )
    assert cdn.url_for("li_x.jpg") == "https://img.example.cn/li_x.jpg"
    await cdn.close()


@pytest.fixture
async def s3_client(
    s3_endpoint: str,
    settings: Settings,
    clock: ManualClock,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> AsyncIterator[tuple[Client, Core]]:
    s3 = dataclasses.replace(
        settings,
        storage_backend="s3",
        s3_endpoint=s3_endpoint,
        s3_bucket=BUCKET,
        s3_access_key=KEYS["access_key"],
        s3_secret_key=KEYS["secret_key"],
    )
    s3.validate()
    core = await build_core(s3, clock=clock)
    yield await aiohttp_client(create_app(s3, core=core)), core
    await core.close()


async def test_upload_through_the_api_to_s3(
    s3_client: tuple[Client, Core], make_account: Any
) -> None:
    client, core = s3_client
    assert isinstance(core.storage, S3Storage)
    seller: Account = await make_account()
    listing = await publish(client, seller, SALE)
    jpeg = image_bytes("JPEG")
    resp = await client.post(
        f"/api/v1/listings/{listing['id']}/images",
        data=upload_form(jpeg, "image/jpeg"),
        headers=seller.headers,
    )
    assert resp.status == 201, await resp.text()
    (image,) = (await resp.json())["images"]
    assert image["url"].startswith(core.settings.s3_endpoint)
    stored = await core.storage.get(image["key"])
    with PILImage.open(io.BytesIO(stored)) as decoded:
        assert (decoded.format, decoded.size) == ("JPEG", (8, 8))
    # No local media route in S3 mode.
    assert (await client.get(f"/media/{image['key']}")).status == 404
    gone = await client.delete(f"/api/v1/listings/{listing['id']}/images/0", headers=seller.headers)
    assert gone.status == 200
    with pytest.raises(NotFound):
        await core.storage.get(image["key"])


# --- what is stored for an upload, and how it is served (issue 16, item 15) ---------------------

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _jpeg_with_gps() -> bytes:
    exif = PILImage.Exif()
    exif[0x010F] = "LagoCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 47.0)})
    out = io.BytesIO()
    PILImage.new("RGB", (16, 12), (10, 120, 200)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_uploads_are_re_encoded_and_served_strictly(
    client: Client, core: Core, world: dict[str, Any]
) -> None:
    seller: Account = world["resident_a"]
    listing = await publish(client, seller, SALE)
    url = f"/api/v1/listings/{listing['id']}/images"
    polyglot = image_bytes("PNG") + HTML
    gps_photo = _jpeg_with_gps()
    with PILImage.open(io.BytesIO(gps_photo)) as original:
        assert original.getexif().get_ifd(0x8825)  # the fixture really carries a position
    for data, content_type in ((polyglot, "image/png"), (gps_photo, "image/jpeg")):
        resp = await client.post(url, data=upload_form(data, content_type), headers=seller.headers)
        assert resp.status == 201, await resp.text()
    images = (await resp.json())["images"]
    for image, sent, content_type in zip(
        images, (polyglot, gps_photo), ("image/png", "image/jpeg"), strict=True
    ):
        stored = await core.storage.get(image["key"])
        assert stored != sent
        assert b"<html" not in stored
        assert b"<script" not in stored
        assert b"Exif" not in stored
        assert b"LagoCam" not in stored
        with PILImage.open(io.BytesIO(stored)) as decoded:
            assert not decoded.getexif()
            assert decoded.format == content_type.split("/")[1].upper()
        served = await client.get(image["url"])
        assert served.status == 200
        assert served.headers["Content-Type"] == content_type
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served.headers["Content-Security-Policy"]
        assert await served.read() == stored


async def test_a_non_image_with_an_image_name_is_refused(
    client: Client, core: Core, world: dict[str, Any]
) -> None:
    seller: Account = world["resident_a"]
    listing = (await publish(client, seller, SALE))["id"]
    for data, name in ((HTML, "photo.png"), (b"GIF89a" + HTML, "photo.jpg"), (HTML, "x.webp")):
        resp = await client.post(
            f"/api/v1/listings/{listing}/images",
            data=upload_form(data, "image/png", name),
            headers=seller.headers,
        )
        assert resp.status == 415, name
        assert (await resp.json())["error"]["code"] in ("not_an_image", "unsupported_image_type")
    assert [p for p in _tree(core.settings.storage_dir) if p.name.startswith("li_")] == []


async def test_media_route_serves_only_stored_kinds(client: Client, core: Core) -> None:
    """Whatever lies in the media directory, only keys of a stored kind are served, each with
    its fixed type: a file placed there by other means (an .html) is not."""
    root = core.settings.storage_dir
    (root / "evil.html").write_bytes(HTML)
    (root / "li_x.png").write_bytes(image_bytes("PNG"))
    # An escaped traversal reaches the media route as a key; a plain one the client already
    # folded into /etc/passwd, the web app's path (its page, never the file).
    cases = (
        ("evil.html", 404),
        ("li_x.png", 200),
        ("..%2fetc%2fpasswd", 404),
        ("..%2f..%2fx", 404),
    )
    for name, status in cases:
        resp = await client.get(URL(f"/media/{name}", encoded=True))
        assert resp.status == status, name
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    folded = await client.get("/media/../etc/passwd")
    assert b"root:" not in await folded.read()
    png = await client.get("/media/li_x.png")
    assert png.headers["Content-Type"] == "image/png"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size: what a decompression bomb looks like before it is decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_huge_images_are_refused_before_decoding() -> None:
    from lago_core.errors import UnsupportedMediaType
    from lago_core.uploads import MAX_IMAGE_PIXELS, clean_image

    # Past our bound, and past Pillow's own decompression-bomb limit.
    for side in (8_000, 20_000):
        bomb = _png_header_only(side, side)
        assert len(bomb) < 2_000
        assert side * side > MAX_IMAGE_PIXELS
        with pytest.raises(UnsupportedMediaType) as refused:
            clean_image(bomb)
        assert refused.value.code == "image_too_large", side
