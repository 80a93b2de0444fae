"""What an uploaded file really is, judged from its bytes, never from the client's word, and
what is stored in its place.

Listings (images) and merchants (logos, qualification documents) share these checks so that one
rule decides what the platform stores. An image is never stored as it came: it is decoded and
encoded again (:func:`clean_image`), so metadata (EXIF with its GPS position, comments, XMP) and
anything appended or hidden after the pixels (an HTML page, a script, an archive — a polyglot
file) are gone. Callers run these functions in a thread: decoding an image is CPU work.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from lago_core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from lago_core.storage import MEDIA_TYPES

__all__ = [
    "DECLARED_DOCUMENT_TYPES",
    "DECLARED_IMAGE_TYPES",
    "MAX_IMAGE_PIXELS",
    "CleanFile",
    "check_declared_type",
    "clean_document",
    "clean_image",
    "identify_document",
    "identify_image",
]

# What an upload may declare. application/octet-stream (or no type) means "not declared": some
# clients send it for every file, and the decoded content decides anyway.
DECLARED_IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/png", "image/webp", "application/octet-stream"}
)
DECLARED_DOCUMENT_TYPES = DECLARED_IMAGE_TYPES | {"application/pdf"}
# Pillow format name -> extension of the formats we keep; the content type a stored file is
# served with comes from its extension (lago_core.storage.MEDIA_TYPES).
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
_FORMATS = {fmt: (MEDIA_TYPES[ext], ext) for fmt, ext in _EXTENSIONS.items()}
# 50 megapixels: above what a phone camera takes for a listing photo, far below what would let
# one upload hold gigabytes of decoded pixels (a decompression bomb: a few KB that decode huge).
MAX_IMAGE_PIXELS = 50_000_000
_JPEG_QUALITY = 90
_PDF_MAGIC = b"%PDF-"
# A PDF ends with %%EOF, possibly followed by whitespace or (after incremental saves, by some
# writers) a little junk; looking at the tail catches truncated uploads without parsing PDF.
_PDF_TAIL = 1024


def check_declared_type(declared: str | None, allowed: frozenset[str], message: str) -> None:
    """A first, cheap filter on the declared type; the bytes decide afterwards."""
    if declared is not None and declared.lower() not in allowed:
        raise UnsupportedMediaType(message, details={"declared": declared})


def identify_image(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an allowed image, judged by decoding it; raises otherwise."""
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses, on huge pixel counts (decompression bombs); refuse at once.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                _check_pixels(image)
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large() from None
    except UnidentifiedImageError:
        raise UnsupportedMediaType(
            "the file is not a JPEG, PNG or WebP image", code="not_an_image"
        ) from None
    except (OSError, SyntaxError, ValueError):
        # verify() reports corrupt data with these (SyntaxError for bad PNG chunks, per Pillow).
        raise InvalidInput("the image is damaged or truncated", code="invalid_image") from None
    if fmt not in _FORMATS:
        raise UnsupportedMediaType(
            "upload a JPEG, PNG or WebP image",
            code="unsupported_image_type",
            details={"format": fmt},
        )
    return _FORMATS[fmt]


def identify_document(data: bytes, max_bytes: int) -> tuple[str, str]:
    """(content type, extension) of a scanned document: a PDF or an allowed image.

    The REST layer already bounds what it reads; the size is checked again here because the
    service may be called from elsewhere (a worker importing documents) with no such bound.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge("the file is too large", details={"max_bytes": max_bytes})
    if data.startswith(_PDF_MAGIC):
        if b"%%EOF" not in data[-_PDF_TAIL:]:
            raise InvalidInput("the PDF is damaged or truncated", code="invalid_pdf")
        return "application/pdf", ".pdf"
    try:
        return identify_image(data)
    except UnsupportedMediaType as exc:
        if exc.code != "not_an_image":
            raise
        raise UnsupportedMediaType(
            "upload a PDF, or a JPEG, PNG or WebP image", code="unsupported_document_type"
        ) from None


@dataclass(frozen=True, slots=True)
class CleanFile:
    """What is stored for an upload: new bytes, and the type and extension they have."""

    data: bytes
    content_type: str
    extension: str


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large()


def _too_large() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels",
        code="image_too_large",
        details={"max_pixels": MAX_IMAGE_PIXELS},
    )


def clean_image(data: bytes) -> CleanFile:
    """The image decoded and encoded again in its own format: pixels and colour profile only.

    Orientation from EXIF is applied to the pixels first, so a phone photo stays upright once
    its EXIF is gone. An animated image keeps its first frame.
    """
    content_type, extension = identify_image(data)  # verify() leaves the image unusable
    try:
        with Image.open(io.BytesIO(data), formats=tuple(_FORMATS)) as source:
            fmt = source.format
            icc_profile = source.info.get("icc_profile")
            image = ImageOps.exif_transpose(source)
            image.load()
    except (OSError, SyntaxError, ValueError):
        raise InvalidInput("the image is damaged or truncated", code="invalid_image") from None
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    # Encoders copy some of info (JPEG comments) into the output; nothing of it is kept.
    image.info = {}
    out = io.BytesIO()
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=_JPEG_QUALITY, **options)
    elif fmt == "PNG":
        image.save(out, "PNG", **options)
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "WEBP", quality=_JPEG_QUALITY, **options)
    return CleanFile(out.getvalue(), content_type, extension)


def clean_document(data: bytes, max_bytes: int) -> CleanFile:
    """A scanned document as it is stored: a PDF as it came, an image cleaned."""
    content_type, extension = identify_document(data, max_bytes)
    if content_type == "application/pdf":
        # Served as application/pdf with nosniff and a sandboxing policy, never as a page.
        return CleanFile(data, content_type, extension)
    return clean_image(data)
