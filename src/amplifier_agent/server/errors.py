"""HTTP errors of the chat-completions face: the `HttpError` exception, the OpenAI-shape error
body every non-2xx response carries (SPEC §8.3), and constructors for the fixed gate failures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

MISSING_API_KEY_MESSAGE = "Missing or malformed Authorization header"
INVALID_API_KEY_MESSAGE = "Invalid API key"
_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_UPSTREAM_STATUSES = frozenset({429, 502, 504})
# A path is echoed into the 404 message; bound it so a huge URL cannot bloat the error body.
_MAX_ECHOED_PATH = 200


class HttpError(Exception):
    """A request failure with its HTTP status, OpenAI error `code`, offending `param` and any
    extra response headers (`Allow`, `WWW-Authenticate`, `Retry-After`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"HttpError({self.status}, {self.code!r}, {self.message!r}, param={self.param!r})"


def error_type(status: int) -> str:
    """The OpenAI error `type` for an HTTP status."""
    if status in _UPSTREAM_STATUSES:
        return "upstream_error"
    if 400 <= status < 500:
        return "invalid_request_error"
    return "server_error"


def error_body(error: HttpError) -> bytes:
    """`{"error":{"message","type","code","param"}}` as compact JSON; never raises."""
    payload = {
        "error": {
            "message": error.message,
            "type": error_type(error.status),
            "code": error.code,
            "param": error.param,
        }
    }
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        # Only a lone surrogate echoed from client input can get here; replace it, keep the body.
        return orjson.dumps(
            {"error": {key: _clean(value) for key, value in payload["error"].items()}}
        )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def missing_api_key() -> HttpError:
    return HttpError(401, "missing_api_key", MISSING_API_KEY_MESSAGE, headers=_BEARER_CHALLENGE)


def invalid_api_key() -> HttpError:
    return HttpError(401, "invalid_api_key", INVALID_API_KEY_MESSAGE, headers=_BEARER_CHALLENGE)


def not_found(path: str) -> HttpError:
    shown = path if len(path) <= _MAX_ECHOED_PATH else path[:_MAX_ECHOED_PATH] + "..."
    return HttpError(404, "not_found", f"No route for {shown}")


def method_not_allowed(allowed: Iterable[str]) -> HttpError:
    methods = ", ".join(allowed)
    return HttpError(
        405,
        "method_not_allowed",
        f"Method not allowed; use {methods}",
        headers={"Allow": methods},
    )


def invalid_host() -> HttpError:
    return HttpError(
        421, "invalid_host", "The Host header names a host this server does not answer for"
    )


def forbidden_origin() -> HttpError:
    return HttpError(403, "forbidden_origin", "Requests from this Origin are not allowed")


def unsupported_media_type() -> HttpError:
    return HttpError(
        415, "unsupported_media_type", "Content-Type must be application/json (or absent)"
    )


def request_too_large(limit: int) -> HttpError:
    return HttpError(413, "request_too_large", f"Request body exceeds {limit} bytes")


def shutting_down() -> HttpError:
    return HttpError(503, "server_shutting_down", "The server is shutting down")
