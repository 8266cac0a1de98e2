"""Error bodies and the fixed gate errors of the HTTP face (SPEC §8.3)."""

from __future__ import annotations

import orjson
import pytest

from amplifier_agent.server import errors
from amplifier_agent.server.errors import HttpError, error_body, error_type


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "invalid_request_error"),
        (401, "invalid_request_error"),
        (404, "invalid_request_error"),
        (409, "invalid_request_error"),
        (413, "invalid_request_error"),
        (421, "invalid_request_error"),
        (429, "upstream_error"),
        (500, "server_error"),
        (502, "upstream_error"),
        (503, "server_error"),
        (504, "upstream_error"),
    ],
)
def test_error_type_by_status(status: int, expected: str) -> None:
    assert error_type(status) == expected


def test_missing_api_key_body_and_challenge_are_exact() -> None:
    error = errors.missing_api_key()
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": "Bearer"}
    assert error_body(error) == (
        b'{"error":{"message":"Missing or malformed Authorization header",'
        b'"type":"invalid_request_error","code":"missing_api_key","param":null}}'
    )


def test_invalid_api_key_body_and_challenge_are_exact() -> None:
    error = errors.invalid_api_key()
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": "Bearer"}
    assert error_body(error) == (
        b'{"error":{"message":"Invalid API key","type":"invalid_request_error",'
        b'"code":"invalid_api_key","param":null}}'
    )


def test_body_carries_param_when_given() -> None:
    error = HttpError(400, "invalid_value", "bad role", param="messages[3].role")
    assert orjson.loads(error_body(error)) == {
        "error": {
            "message": "bad role",
            "type": "invalid_request_error",
            "code": "invalid_value",
            "param": "messages[3].role",
        }
    }


def test_body_never_raises_on_a_lone_surrogate() -> None:
    error = HttpError(404, "not_found", "No route for /\ud800x", param="\udfff")
    body = orjson.loads(error_body(error))["error"]
    assert body["message"] == "No route for /?x"
    assert body["param"] == "?"
    assert body["code"] == "not_found"


def test_headers_are_copied_not_shared() -> None:
    first = errors.missing_api_key()
    first.headers["X-Other"] = "1"
    assert errors.missing_api_key().headers == {"WWW-Authenticate": "Bearer"}


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.not_found("/nope"), 404, "not_found"),
        (errors.invalid_host(), 421, "invalid_host"),
        (errors.forbidden_origin(), 403, "forbidden_origin"),
        (errors.unsupported_media_type(), 415, "unsupported_media_type"),
        (errors.request_too_large(16), 413, "request_too_large"),
        (errors.shutting_down(), 503, "server_shutting_down"),
    ],
)
def test_fixed_errors(error: HttpError, status: int, code: str) -> None:
    assert (error.status, error.code, error.param) == (status, code, None)
    assert orjson.loads(error_body(error))["error"]["code"] == code


def test_method_not_allowed_lists_allowed_methods() -> None:
    error = errors.method_not_allowed(("GET", "POST"))
    assert (error.status, error.code) == (405, "method_not_allowed")
    assert error.headers == {"Allow": "GET, POST"}


def test_not_found_names_the_path_but_bounds_it() -> None:
    assert "/v2/chat" in errors.not_found("/v2/chat").message
    long_message = errors.not_found("/" + "a" * 10_000).message
    assert len(long_message) < 300


def test_shutting_down_is_a_server_error() -> None:
    body = orjson.loads(error_body(errors.shutting_down()))
    assert body["error"]["type"] == "server_error"
    assert errors.request_too_large(16 * 1024 * 1024).message.endswith("16777216 bytes")


def test_http_error_is_an_exception_with_its_message() -> None:
    with pytest.raises(HttpError) as caught:
        raise errors.forbidden_origin()
    assert str(caught.value) == caught.value.message
    assert "forbidden_origin" in repr(caught.value)
