"""The request gate's pure checks: Host, Origin, CORS, bearer auth, Content-Type, request id and
the session header (SPEC §8.3, §8.9)."""

from __future__ import annotations

import re

import orjson
import pytest

from amplifier_agent.server.errors import HttpError, error_body
from amplifier_agent.server.gate import (
    BearerCheck,
    content_type_ok,
    cors_origin,
    host_allowed,
    origin_allowed,
    prefers_json,
    request_id,
    session_header,
)

KEY = "aak_s3cret-key"


# -- Host ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:9099",
        "localhost",
        "localhost:1",
        "LOCALHOST:9099",
        "[::1]",
        "[::1]:9099",
        " localhost:9099 ",
    ],
)
def test_loopback_bind_accepts_loopback_hosts(host: str) -> None:
    assert host_allowed(host, bind_is_loopback=True, allowed_hosts=())


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "   ",
        "evil.example",
        "evil.example:9099",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "127.0.0.2",
        "[::2]",
        "::1",
        "localhost:",
        "localhost:port",
        "localhost:9099:1",
        "user@localhost",
        "localhost/",
        "lоcalhost",  # Cyrillic o
        "ĺocalhost:9099",
        "a" * 10_000,
        "localhost:" + "9" * 1000,
    ],
)
def test_loopback_bind_refuses_other_hosts(host: str | None) -> None:
    assert not host_allowed(host, bind_is_loopback=True, allowed_hosts=())


def test_allow_host_entries_with_and_without_port() -> None:
    def allowed(host: str) -> bool:
        entries = ("My-Box.lan", "gateway.internal:8443")
        return host_allowed(host, bind_is_loopback=True, allowed_hosts=entries)

    assert allowed("my-box.lan")
    assert allowed("MY-BOX.LAN:9099")
    assert allowed("gateway.internal:8443")
    assert not allowed("gateway.internal")
    assert not allowed("gateway.internal:9099")
    assert not allowed("other.lan")


def test_non_loopback_bind_checks_only_with_allow_host() -> None:
    assert host_allowed("anything.example", bind_is_loopback=False, allowed_hosts=())
    assert host_allowed(None, bind_is_loopback=False, allowed_hosts=())
    listed = ("api.example",)
    assert host_allowed("api.example:9099", bind_is_loopback=False, allowed_hosts=listed)
    assert host_allowed("localhost:9099", bind_is_loopback=False, allowed_hosts=listed)
    assert not host_allowed("evil.example", bind_is_loopback=False, allowed_hosts=listed)
    assert not host_allowed(None, bind_is_loopback=False, allowed_hosts=listed)


# -- Origin and CORS --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [None, "http://localhost", "http://localhost:3000", "http://127.0.0.1:9099", "http://[::1]:80"],
)
def test_origin_allowed_without_configuration(origin: str | None) -> None:
    assert origin_allowed(origin, ())


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "NULL",
        "",
        "https://localhost:3000",
        "http://localhost.evil.example",
        "http://evil.example",
        "http://127.0.0.1.evil.example",
        "http://localhost:3000/",
        "http://localhost:3000/path",
        "http://ünï.example",
        "x" * 10_000,
    ],
)
def test_origin_refused(origin: str) -> None:
    assert not origin_allowed(origin, ())


def test_allow_origin_entries_are_allowed_case_insensitively() -> None:
    allowed = ("https://App.Example", "http://tool.lan:8080/")
    assert origin_allowed("https://app.example", allowed)
    assert origin_allowed("http://tool.lan:8080", allowed)
    assert not origin_allowed("https://app.example:444", allowed)
    assert not origin_allowed("null", ("null",))


def test_cors_only_for_explicitly_allowed_origins() -> None:
    allowed = ("https://app.example",)
    assert cors_origin("https://app.example", allowed) == "https://app.example"
    assert cors_origin("https://APP.example", allowed) == "https://APP.example"
    assert cors_origin("http://localhost:3000", allowed) is None
    assert cors_origin("https://other.example", allowed) is None
    assert cors_origin(None, allowed) is None
    assert cors_origin("null", ("null",)) is None


def test_cors_is_never_a_wildcard() -> None:
    assert cors_origin("*", ("*",)) is None
    assert cors_origin("https://app.example", ("*",)) is None


# -- Bearer auth ------------------------------------------------------------------------------


def _auth_failure(check: BearerCheck, header: bytes | str | None) -> HttpError:
    with pytest.raises(HttpError) as caught:
        check.check(header)
    return caught.value


@pytest.mark.parametrize(
    "header",
    [b"Bearer " + KEY.encode(), b"bearer " + KEY.encode(), b"BEARER \t" + KEY.encode() + b"  "],
)
def test_bearer_accepts_the_key(header: bytes) -> None:
    BearerCheck(KEY).check(header)  # raises on failure


def test_bearer_accepts_a_str_header() -> None:
    BearerCheck(KEY).check("Bearer " + KEY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"",
        b"   ",
        b"Bearer",
        b"Bearer ",
        b"Bearer \t ",
        b"Basic abc",
        KEY.encode(),
        b"Token " + KEY.encode(),
        b"Bearer" + KEY.encode(),
        "Bearér x".encode(),
    ],
)
def test_missing_or_malformed_header(header: bytes | None) -> None:
    error = _auth_failure(BearerCheck(KEY), header)
    assert error_body(error) == (
        b'{"error":{"message":"Missing or malformed Authorization header",'
        b'"type":"invalid_request_error","code":"missing_api_key","param":null}}'
    )
    assert (error.status, error.headers) == (401, {"WWW-Authenticate": "Bearer"})


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer wrong",
        b"Bearer " + KEY.encode() + b"x",
        b"Bearer " + KEY.upper().encode(),
        b"Bearer " + KEY.encode()[:-1],
        b"Bearer \xff\xfe\x00",
        "Bearer ключ".encode(),
        b"Bearer " + b"k" * 100_000,
        b"Bearer " + KEY.encode() + b" extra",
        "Bearer \udcff",
    ],
)
def test_wrong_token(header: bytes | str) -> None:
    error = _auth_failure(BearerCheck(KEY), header)
    assert error_body(error) == (
        b'{"error":{"message":"Invalid API key","type":"invalid_request_error",'
        b'"code":"invalid_api_key","param":null}}'
    )
    assert (error.status, error.headers) == (401, {"WWW-Authenticate": "Bearer"})


def test_non_ascii_key_compares_over_utf8() -> None:
    check = BearerCheck("ключ-🔑")
    check.check("Bearer ключ-🔑".encode())
    check.check("Bearer ключ-🔑".encode().decode("latin-1"))  # as an ASGI server decodes it
    assert _auth_failure(check, b"Bearer key").code == "invalid_api_key"


def test_the_check_keeps_only_a_digest_of_the_key() -> None:
    check = BearerCheck(KEY)
    assert KEY not in repr(check)
    assert all(KEY not in repr(value) for value in vars(check).values())


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        BearerCheck("  ")


# -- Content-Type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/vnd.api+json",
        "application/merge-patch+json; q=1",
        "application/x-www-form-urlencoded",
    ],
)
def test_content_type_accepted(value: str | None) -> None:
    assert content_type_ok(value)


@pytest.mark.parametrize(
    "value",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/+json",
        "application/json5",
        "text/json",
        "application/jsonx",
        "ápplication/json",
        "x" * 10_000,
    ],
)
def test_content_type_refused(value: str) -> None:
    assert not content_type_ok(value)


# -- Request id -------------------------------------------------------------------------------

GENERATED = re.compile(r"req_[0-9a-f]{24}")


@pytest.mark.parametrize("value", ["abc", "A-b_c.9", "x" * 128])
def test_request_id_echoes_safe_values(value: str) -> None:
    assert request_id(value) == value


@pytest.mark.parametrize(
    "value", [None, "", "x" * 129, "a b", "a\nb", "abc\n", "ünï", "a/b", "a:b", "<script>"]
)
def test_request_id_generated_otherwise(value: str | None) -> None:
    generated = request_id(value)
    assert GENERATED.fullmatch(generated)
    assert request_id(value) != generated


# -- Accept (content negotiation when `stream` is absent) ------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",  # the openai SDKs and LiteLLM
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json, text/event-stream;q=0.5",
        "text/event-stream;q=0, application/json",
        "application/json, */*;q=0.8",
        "application/json, */*",  # axios-based clients
        "application/json, text/plain, */*",
        "application/*",
        "application/json;q=0.9, text/*;q=0.1",
        "text/event-stream;q=0.2,application/json;q=0.3",
    ],
)
def test_accept_ranking_json_first_prefers_json(accept: str) -> None:
    assert prefers_json(accept) is True


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "   ",
        "*/*",  # curl, fetch
        "text/event-stream",
        "application/json, text/event-stream",  # a tie keeps the default
        "application/json;q=0.5, text/event-stream",
        "application/json;q=0, */*",
        "text/html",
        "application/json;q=abc",  # a malformed range counts as absent
        "application/json;q=2",
        "application/json;q=nan",
        "json",
        "application/",
        ",,,",
    ],
)
def test_anything_else_keeps_the_sse_default(accept: str | None) -> None:
    assert prefers_json(accept) is False


# -- Session header ---------------------------------------------------------------------------


def test_client_session_id_wins_over_session_id() -> None:
    headers = {"x-client-session-id": "client-1", "x-session-id": "ses_2"}
    assert session_header(headers) == "client-1"


def test_session_id_is_the_fallback_and_names_are_case_insensitive() -> None:
    assert session_header({"X-Session-Id": " ses_01J:abc "}) == "ses_01J:abc"
    assert session_header({"X-CLIENT-SESSION-ID": "a.b"}) == "a.b"


@pytest.mark.parametrize(
    "headers", [{}, {"x-session-id": ""}, {"x-client-session-id": "  \t "}, {"other": "x"}]
)
def test_no_session(headers: dict[str, str]) -> None:
    assert session_header(headers) is None


def test_whitespace_client_header_falls_back_to_session_id() -> None:
    assert session_header({"x-client-session-id": "  ", "x-session-id": "s1"}) == "s1"


@pytest.mark.parametrize(
    "value", [".", "..", "...", "../etc", "a/b", "a b", "x" * 129, "ünï", "a\x00b", "a\\b"]
)
def test_invalid_session_ids(value: str) -> None:
    with pytest.raises(HttpError) as caught:
        session_header({"x-client-session-id": value})
    error = caught.value
    assert (error.status, error.code, error.param) == (400, "invalid_session_id", None)
    assert orjson.loads(error_body(error))["error"]["type"] == "invalid_request_error"


def test_invalid_client_header_is_not_rescued_by_the_fallback() -> None:
    with pytest.raises(HttpError):
        session_header({"x-client-session-id": "..", "x-session-id": "fine"})


def test_session_id_at_the_length_limit() -> None:
    assert session_header({"x-session-id": "a" * 128}) == "a" * 128
    assert session_header({"x-session-id": ".a."}) == ".a."
