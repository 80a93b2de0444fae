"""What an uploaded file really is: judged from its bytes, never from the client's word.

Listings (images) and merchants (logos, qualification documents) share these checks so that one
rule decides what the platform stores. Callers run the identify functions in a thread: decoding
an image is CPU work.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from lago_core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "DECLARED_DOCUMENT_TYPES",
    "DECLARED_IMAGE_TYPES",
    "check_declared_type",
    "identify_document",
    "identify_image",
]

# What an upload may declare. application/octet-stream (or no type) means "not declared": some
# clients send it for every file, and the decoded content decides anyway.
DECLARED_IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/jpg", "image/png", "image/webp", "application/octet-stream"}
)
DECLARED_DOCUMENT_TYPES = DECLARED_IMAGE_TYPES | {"application/pdf"}
# Pillow format name -> (content type, extension) of the formats we keep.
_FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}
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
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
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
