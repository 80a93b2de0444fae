"""Waiting in tests for state that no event signals (PostgreSQL locks, Redis subscribers, a
peer connection closing inside aiortc, tasks reaching their first await).

Where the code under test offers an event (a socket.io message, an ack), tests wait on it with
``ChannelClient.wait_until`` instead. This is the one place that polls: bounded by ``within``,
it fails the test with what it waited for rather than sleeping a fixed time and hoping.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

__all__ = ["until"]


async def until(
    condition: Callable[[], bool | Awaitable[bool]], *, within: float = 5.0, every: float = 0.01
) -> None:
    """Return as soon as ``condition()`` is true; fail after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"not true within {within} s: {condition!r}") from None
