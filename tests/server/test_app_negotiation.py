"""`stream` absent: the `Accept` header picks one JSON body or SSE (SPEC §8.4), through the
whole ASGI app in-process."""

from __future__ import annotations

import httpx2
import pytest

from tests.server.test_app_faults import AUTH, BODY, ScriptedEngine, client_for


async def post(accept: list[str], **fields: object) -> httpx2.Response:
    """POST `BODY` plus `fields` with one `Accept` line per entry of `accept` (none: no header
    at all, not even the client's default)."""
    headers = [*AUTH.items(), *(("accept", value) for value in accept)]
    async with client_for(ScriptedEngine(texts=("ok",))) as client:
        client.headers.pop("accept", None)
        return await client.post("/v1/chat/completions", json={**BODY, **fields}, headers=headers)


def is_json_completion(response: httpx2.Response) -> bool:
    assert response.status_code == 200, response.text
    if response.headers["content-type"] == "text/event-stream":
        assert response.text.endswith("data: [DONE]\n\n")
        return False
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "ok"
    return True


async def test_accept_json_without_stream_gets_one_json_body() -> None:
    assert is_json_completion(await post(["application/json"]))


@pytest.mark.parametrize("accept", [[], ["*/*"], ["text/event-stream"]])
async def test_no_preference_for_json_keeps_streaming(accept: list[str]) -> None:
    assert not is_json_completion(await post(accept))


@pytest.mark.parametrize("stream", [True, False])
async def test_an_explicit_stream_always_wins(stream: bool) -> None:
    assert is_json_completion(await post(["application/json"], stream=stream)) is not stream
    assert is_json_completion(await post(["text/event-stream"], stream=stream)) is not stream


async def test_repeated_accept_lines_are_read_as_one_list() -> None:
    assert not is_json_completion(await post(["application/json", "text/event-stream"]))
    assert is_json_completion(await post(["application/json", "text/event-stream;q=0.1"]))
