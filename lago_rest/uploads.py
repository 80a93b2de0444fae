"""Reading one uploaded file from a multipart/form-data request, with a hard size bound."""

from __future__ import annotations

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from lago_core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from lago_core.text import refuse_unstorable

__all__ = ["read_file_part"]

# Room for the multipart boundaries and part headers around a file of the maximum size.
_MULTIPART_OVERHEAD = 64 << 10
_CHUNK = 64 << 10


async def read_file_part(
    request: web.Request, limit: int, what: str = "image"
) -> tuple[bytes, str | None]:
    """The bytes and declared type of the part named ``file``, read with a hard size bound.

    This is what WeChat's ``wx.uploadFile({name: "file"})`` sends. The app's ``client_max_size``
    only bounds ``request.read()``/``post()``, not a streamed multipart body, so the bound is
    enforced here while reading. ``what`` names the file in error messages.
    """
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(f"send multipart/form-data with the {what} in a part named file")
    too_large = PayloadTooLarge(f"the {what} is too large", details={"max_bytes": limit})
    if request.content_length is not None and request.content_length > limit + _MULTIPART_OVERHEAD:
        raise too_large
    try:
        found = await _file_part(request, limit, too_large)
    except (HttpProcessingError, ValueError):
        # aiohttp's multipart reader parses part headers with its HTTP header parser, which
        # raises these (not web.HTTPException) for NUL, control characters or a bad line.
        raise InvalidInput(
            "the multipart body is malformed: check the part headers",
            code="malformed_multipart",
        ) from None
    if found is None:
        raise InvalidInput(f"send the {what} in a multipart part named file", code="missing_file")
    return found


async def _file_part(
    request: web.Request, limit: int, too_large: PayloadTooLarge
) -> tuple[bytes, str | None] | None:
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        # Every part's headers follow the storable-text rule, whether or not the part is used:
        # they are decoded with surrogateescape, so bytes that are not UTF-8 arrive as lone
        # surrogates.
        for name, value in part.headers.items():
            refuse_unstorable(value, f"multipart header {name}")
        # Other parts (wx.uploadFile's formData) are skipped; reader.next() drains them.
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        refuse_unstorable(part.filename or "", "file name")
        data = bytearray()
        while chunk := await part.read_chunk(_CHUNK):
            data += chunk
            if len(data) > limit:
                raise too_large
        declared = part.headers.get(hdrs.CONTENT_TYPE)
        return bytes(data), declared.split(";")[0].strip() if declared else None
    return None
