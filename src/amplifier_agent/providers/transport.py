"""Which HTTP transport an SDK client gets: aiohttp for a long-running server, the SDK's default
(httpx2 over httpcore2) everywhere else.

Both SDKs document `DefaultAioHttpClient`, an `httpx2.AsyncClient` whose transport is aiohttp
with its C parser; under load it costs the server markedly less CPU per call than the pure-Python
stack. A one-turn process gains nothing from it, so only providers built inside
`server_transport()` use it, and only when aiohttp is installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx2

_PREFER_AIOHTTP: ContextVar[bool] = ContextVar("prefer_aiohttp_transport", default=False)


@contextmanager
def server_transport() -> Iterator[None]:
    """Providers built inside this block (and in tasks started from it) use aiohttp."""
    token = _PREFER_AIOHTTP.set(True)
    try:
        yield
    finally:
        _PREFER_AIOHTTP.reset(token)


def aiohttp_available() -> bool:
    return importlib.util.find_spec("aiohttp") is not None


def sdk_http_client(
    factory: Callable[..., httpx2.AsyncClient], timeout: httpx2.Timeout
) -> httpx2.AsyncClient | None:
    """`factory(timeout=...)` (an SDK's `DefaultAioHttpClient`) when the server asked for it and
    aiohttp is installed; None lets the SDK build its default client."""
    if not _PREFER_AIOHTTP.get() or not aiohttp_available():
        return None
    return factory(timeout=timeout)
