"""aiortc's private members, reached only here (aiortc is pinned exactly).

The encoded-frame relay (lago_rt/media/aiortc_backend.py) forwards the publisher's encoded
frames to every viewer without decoding or encoding them; aiortc has no public API for any of
the four things that takes. Why each member is needed:

- ``RTCRtpReceiver.__decoder_queue`` (name-mangled ``_RTCRtpReceiver__decoder_queue``): the
  ``queue.Queue`` the receiver puts reassembled encoded frames on for its decoder thread. Replaced
  before the receiver starts (:func:`replace_decoder_queue`), it is where the relay taps the
  encoded frames, and the decoder thread then sleeps.
- ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``: sends a picture loss indication to the
  publisher — the only way to ask it for a keyframe (:func:`send_picture_loss_indication`).
- ``RTCRtpSender._send_keyframe()``: what the sender calls when a viewer reports picture loss; it
  would force a keyframe from the sender's own encoder, which a relaying sender does not use.
  Replaced per sender (:func:`on_keyframe_request`) so the request goes to the publisher.
- ``RTCRtpTransceiver._codecs``: the codecs negotiated for a transceiver, which aiortc fills in
  from the remote description and does not expose (:func:`negotiated_codecs`). Viewers are
  offered exactly the publisher's codec, so its packets fit.

tests/test_private_members.py checks each member against the pinned aiortc, and tests/test_live.py
exercises the relay end to end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiortc import RTCRtpCodecParameters, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver

__all__ = [
    "DECODER_QUEUE_ATTRIBUTE",
    "DecoderQueue",
    "negotiated_codecs",
    "on_keyframe_request",
    "replace_decoder_queue",
    "send_picture_loss_indication",
]

DECODER_QUEUE_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"


class DecoderQueue(Protocol):
    """What the receiver uses its decoder queue for: ``put`` ``(codec, frame)`` on the event
    loop (``None`` when it stops), ``get`` on its decoder thread."""

    def put(self, item: tuple[Any, Any] | None) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...


def replace_decoder_queue(receiver: RTCRtpReceiver, queue: DecoderQueue) -> None:
    """Put ``queue`` in place of the receiver's decoder queue; before the receiver starts."""
    if not hasattr(receiver, DECODER_QUEUE_ATTRIBUTE):
        raise RuntimeError(
            "aiortc's RTCRtpReceiver has no decoder queue to tap: this aiortc version is "
            "not supported by the encoded relay (see lago_core/adapters/aiortc.py)"
        )
    setattr(receiver, DECODER_QUEUE_ATTRIBUTE, queue)


async def send_picture_loss_indication(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the sender of ``media_ssrc`` for a keyframe (RTCP PLI); nothing before RTCP runs."""
    await receiver._send_rtcp_pli(media_ssrc)


def on_keyframe_request(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """Call ``request`` instead of forcing a keyframe from the sender's own encoder when its
    remote end reports picture loss."""
    sender._send_keyframe = request  # type: ignore[method-assign]


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The transceiver's negotiated codecs, preferred first (empty before negotiation)."""
    return list(transceiver._codecs)
