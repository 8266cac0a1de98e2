"""The shared SSE decoder, against the parsing rules of the SSE specification."""

from __future__ import annotations

import pytest

from amplifier_agent.providers.sse import SseDecoder, SseEvent


def decode(*chunks: bytes) -> list[SseEvent]:
    decoder = SseDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_data_lines_dispatch_on_a_blank_line() -> None:
    assert decode(b'data: {"a":1}\n\ndata: [DONE]\n\n') == [
        SseEvent("", b'{"a":1}'),
        SseEvent("", b"[DONE]"),
    ]


def test_event_names_and_multi_line_data() -> None:
    body = b"event: message_start\ndata: one\ndata:two\ndata\n\n"
    assert decode(body) == [SseEvent("message_start", b"one\ntwo\n")]


def test_comments_ids_retries_and_unknown_fields_are_ignored() -> None:
    body = b": keepalive\nid: 7\nretry: 10\nfoo: bar\ndata: x\n\n: trailing\n\n"
    assert decode(body) == [SseEvent("", b"x")]


def test_an_event_without_data_is_dropped_and_its_name_does_not_leak() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [SseEvent("", b"x")]


def test_only_one_leading_space_is_removed() -> None:
    assert decode(b"data:  two spaces\n\n") == [SseEvent("", b" two spaces")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(newline: bytes) -> None:
    body = newline.join([b"event: e", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode(body) == [SseEvent("e", b"a\nb"), SseEvent("", b"c")]


def test_any_slicing_of_the_body_gives_the_same_events() -> None:
    body = b'\xef\xbb\xbfevent: x\r\ndata: {"t":"\xc3\xa9"}\r\n\r\ndata: y\r\r: c\ndata: z\n\n'
    whole = decode(body)
    assert whole == [SseEvent("x", b'{"t":"\xc3\xa9"}'), SseEvent("", b"y"), SseEvent("", b"z")]
    for cut in range(len(body) + 1):
        assert decode(body[:cut], body[cut:]) == whole, cut
    assert decode(*(body[i : i + 1] for i in range(len(body)))) == whole


def test_an_unterminated_event_at_the_end_is_dropped() -> None:
    assert decode(b"data: a\n\ndata: b\n") == [SseEvent("", b"a")]


def test_a_long_line_in_many_pieces_is_joined_once() -> None:
    pieces = [b"data: "] + [b"x" * 10] * 1000 + [b"\n\n"]
    assert decode(*pieces) == [SseEvent("", b"x" * 10_000)]
