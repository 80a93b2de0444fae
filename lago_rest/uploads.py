"""Reading one uploaded file from a multipart/form-data request, with a hard size bound."""

from __future__ import annotations

from aiohttp import BodyPartReader, hdrs, web

from lago_core.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

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
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        # Other parts (wx.uploadFile's formData) are skipped; reader.next() drains them.
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        data = bytearray()
        while chunk := await part.read_chunk(_CHUNK):
            data += chunk
            if len(data) > limit:
                raise too_large
        declared = part.headers.get(hdrs.CONTENT_TYPE)
        return bytes(data), declared.split(";")[0].strip() if declared else None
    raise InvalidInput(f"send the {what} in a multipart part named file", code="missing_file")
