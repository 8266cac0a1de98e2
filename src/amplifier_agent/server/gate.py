"""The request gate's pure checks (SPEC §8.3, §8.9): Host, Origin and CORS, bearer auth,
Content-Type, the request id and the session header. Each works on raw header values."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Mapping

from amplifier_agent.server.errors import HttpError, invalid_api_key, missing_api_key

_HOST_RE = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[^:\[\]/@\s]+)(?::(?P<port>[0-9]{1,5}))?")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_LOOPBACK_ORIGIN_RE = re.compile(r"http://(?:localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?")
_MEDIA_SUFFIX_JSON_RE = re.compile(r"application/[a-z0-9!#$&^_.-]+\+json")
_ACCEPTED_MEDIA = frozenset({"application/json", "application/x-www-form-urlencoded"})
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
SESSION_HEADERS = ("x-client-session-id", "x-session-id")


def host_allowed(
    host_header: str | None, *, bind_is_loopback: bool, allowed_hosts: Collection[str]
) -> bool:
    """Whether the `Host` header names this server. Why: a browser tricked by DNS rebinding
    sends the attacker's host name, which a loopback server must refuse."""
    if not bind_is_loopback and not allowed_hosts:
        return True
    if host_header is None:
        return False
    host = host_header.strip().lower()
    match = _HOST_RE.fullmatch(host)
    if match is None:
        return False
    name = match["name"]
    if name in _LOOPBACK_HOSTS:
        return True
    allowed = {entry.strip().lower() for entry in allowed_hosts}
    return host in allowed or name in allowed


def origin_allowed(origin: str | None, allowed_origins: Collection[str]) -> bool:
    """Whether a request with this `Origin` may proceed; no header means a non-browser client."""
    if origin is None:
        return True
    value = origin.strip().lower()
    if value == "null":
        return False
    return _LOOPBACK_ORIGIN_RE.fullmatch(value) is not None or value in _normalised(allowed_origins)


def cors_origin(origin: str | None, allowed_origins: Collection[str]) -> str | None:
    """The `Access-Control-Allow-Origin` value for `origin`: only explicitly allowed origins get
    one, echoed as sent; never `*`."""
    if origin is None:
        return None
    value = origin.strip()
    if value.lower() in ("null", "*") or not value.isascii():
        return None
    return value if value.lower() in _normalised(allowed_origins) else None


def _normalised(origins: Collection[str]) -> set[str]:
    return {entry.strip().rstrip("/").lower() for entry in origins}


class BearerCheck:
    """The constant-time `Authorization: Bearer <key>` check."""

    def __init__(self, api_key: str) -> None:
        key = api_key.strip()
        if not key:
            raise ValueError("the API key must not be empty")
        self._digest = hashlib.sha256(_utf8(key)).digest()

    def check(self, authorization_header: bytes | str | None) -> None:
        """Return when the header carries the key; else raise the matching 401 `HttpError`."""
        token = _bearer_token(_raw(authorization_header))
        if not token:
            raise missing_api_key()
        # Digests have a fixed length, so the comparison time says nothing about the key.
        if not hmac.compare_digest(hashlib.sha256(token).digest(), self._digest):
            raise invalid_api_key()

    def __repr__(self) -> str:
        return "BearerCheck(<redacted>)"


def _bearer_token(header: bytes | None) -> bytes:
    """The stripped token of a `Bearer` header; empty when absent or another scheme."""
    if header is None:
        return b""
    parts = header.strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() != b"bearer":
        return b""
    return parts[1].strip()


def _raw(value: bytes | str | None) -> bytes | None:
    """Header bytes as received; a `str` is assumed decoded as latin-1 (the ASGI convention)."""
    if value is None or isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return _utf8(value)


def _utf8(text: str) -> bytes:
    # surrogatepass: a key or header with lone surrogates must compare unequal, not raise.
    return text.encode("utf-8", "surrogatepass")


def content_type_ok(value: str | None) -> bool:
    """Absent, `application/json`, `application/*+json` or form-encoded (parsed as JSON too)."""
    if value is None or not value.strip():
        return True
    media = value.split(";", 1)[0].strip().lower()
    return media in _ACCEPTED_MEDIA or _MEDIA_SUFFIX_JSON_RE.fullmatch(media) is not None


def prefers_json(accept: str | None) -> bool:
    """Whether an `Accept` header ranks `application/json` above `text/event-stream`.

    Why: the official openai SDKs and LiteLLM omit `stream` for a non-stream call and send
    `Accept: application/json`; they cannot read SSE. Each type gets the q-value of its most
    specific matching range; `*/*` names neither, so `application/json, */*` (axios and others)
    asks for JSON while a bare `*/*` (curl, fetch) states no preference. A tie, a missing header
    or an unparsable one keeps the documented default, SSE.
    """
    if accept is None or not accept.strip():
        return False
    ranges = [parsed for item in accept.split(",") if (parsed := _media_range(item))]
    return _quality(ranges, "application", "json") > _quality(ranges, "text", "event-stream")


def _media_range(item: str) -> tuple[str, str, float] | None:
    """`(type, subtype, q)` of one `Accept` element; None when it is malformed."""
    media, *params = item.split(";")
    kind, slash, subtype = media.strip().lower().partition("/")
    if not slash or not kind or not subtype:
        return None
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return None
            if not 0.0 <= quality <= 1.0:
                return None
    return kind, subtype, quality


def _quality(ranges: list[tuple[str, str, float]], kind: str, subtype: str) -> float:
    """The q-value the most specific matching range gives `kind/subtype` (0 when none does)."""
    best_rank, best_q = -1, 0.0
    for range_kind, range_subtype, quality in ranges:
        if (range_kind, range_subtype) == (kind, subtype):
            rank = 2
        elif (range_kind, range_subtype) == (kind, "*"):
            rank = 1
        else:
            continue
        if rank > best_rank or (rank == best_rank and quality > best_q):
            best_rank, best_q = rank, quality
    return best_q


def request_id(client_value: str | None) -> str:
    """The client's `x-request-id` when it is a safe token, else `req_<24 hex>`."""
    if client_value is not None and _REQUEST_ID_RE.fullmatch(client_value):
        return client_value
    return "req_" + secrets.token_hex(12)


def session_header(headers: Mapping[str, str]) -> str | None:
    """The session id from `X-Client-Session-Id`, else `X-Session-Id`, stripped and validated
    (SPEC §2.3); `None` when neither carries a value."""
    by_name = {name.lower(): value for name, value in headers.items()}
    for name in SESSION_HEADERS:
        value = by_name.get(name, "").strip()
        if value:
            if valid_session_id(value):
                return value
            raise HttpError(
                400,
                "invalid_session_id",
                f"The {name} header must match ^[A-Za-z0-9._:-]{{1,128}}$ and not be all dots",
            )
    return None


def valid_session_id(value: str) -> bool:
    """Whether a client's id can name a session: the id grammar, and not all dots."""
    return _SESSION_ID_RE.fullmatch(value) is not None and value.strip(".") != ""
