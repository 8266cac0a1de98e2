"""`web_fetch`: an http(s) GET with checked redirects, a byte cap and HTML reduced to text.

Every hop's host is resolved first and refused if any address is link-local, which is where
cloud metadata services live (169.254.0.0/16, fe80::/10).
"""

from __future__ import annotations

import codecs
import ipaddress
import socket
from typing import Annotated

import anyio
import httpx2
from pydantic import Field

from amplifier_agent.tools.base import ToolContext, ToolError, ToolResult
from amplifier_agent.tools.html_text import html_to_text
from amplifier_agent.tools.paths import SNIFF_BYTES, looks_binary
from amplifier_agent.tools.schema import tool

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 1024 * 1024
TIMEOUT_S = 30.0
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@tool(approval="network", subject="url")
async def web_fetch(
    ctx: ToolContext,
    url: str,
    max_bytes: Annotated[int, Field(ge=1, le=10 * DEFAULT_MAX_BYTES)] = DEFAULT_MAX_BYTES,
) -> ToolResult:
    """Fetch a URL with HTTP GET and return its text; HTML pages are reduced to readable text.

    Args:
        url: An http:// or https:// URL.
        max_bytes: Stop reading the body after this many bytes.
    """
    current = _parse(url)
    async with httpx2.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await check_target(current)
            try:
                result = await _get(client, current, max_bytes)
            except httpx2.HTTPError as exc:
                raise ToolError("fetch_failed", f"GET {current} failed: {exc}") from None
            if isinstance(result, ToolResult):
                return result
            current = result
    raise ToolError("fetch_failed", f"more than {MAX_REDIRECTS} redirects starting at {url}")


async def _get(
    client: httpx2.AsyncClient, url: httpx2.URL, max_bytes: int
) -> ToolResult | httpx2.URL:
    """One hop: the rendered result, or the URL a redirect points to."""
    async with client.stream("GET", url, headers={"User-Agent": "amplifier-agent"}) as resp:
        location = resp.headers.get("location")
        if resp.status_code in _REDIRECT_STATUSES and location:
            return _parse(str(resp.url.join(location)))
        body, cut = await _read_capped(resp, max_bytes)
        return _render(resp, body, cut)


def _parse(url: str) -> httpx2.URL:
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL as exc:
        raise ToolError("invalid_tool_arguments", f"web_fetch: bad URL {url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ToolError("fetch_refused", f"only http and https URLs can be fetched, not {url}")
    return parsed


async def check_target(url: httpx2.URL) -> None:
    """Refuse a URL whose host is, or resolves to, a link-local address."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await anyio.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolError("fetch_failed", f"cannot resolve {url.host}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if address.is_link_local or (mapped is not None and mapped.is_link_local):
            raise ToolError(
                "fetch_refused", f"{url.host} resolves to link-local address {address}; refused"
            )


async def _read_capped(resp: httpx2.Response, max_bytes: int) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), True
    return bytes(body), False


def _render(resp: httpx2.Response, body: bytes, cut: bool) -> ToolResult:
    content_type = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if (content_type and not _is_text(content_type)) or looks_binary(body[:SNIFF_BYTES]):
        raise ToolError(
            "binary_file",
            f"{resp.url} returned {content_type or 'binary data'} ({len(body)} bytes), not text",
        )
    text = body.decode(_codec(resp.charset_encoding), errors="replace")
    if content_type.startswith(_HTML_TYPES):
        text = html_to_text(text)
    header = f"URL: {resp.url}\nStatus: {resp.status_code}\nContent-Type: {content_type or '?'}"
    note = f"\n\n[truncated at {len(body)} bytes]" if cut else ""
    return ToolResult(f"{header}\n\n{text}{note}", is_error=resp.status_code >= 400)


def _is_text(content_type: str) -> bool:
    return content_type.startswith(_TEXT_TYPES + _HTML_TYPES) or content_type.endswith(
        ("+json", "+xml")
    )


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"
