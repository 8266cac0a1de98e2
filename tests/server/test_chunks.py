"""The usage object every response carries (SPEC §8.7): `cached_tokens` is always present."""

from __future__ import annotations

from decimal import Decimal

import orjson

from amplifier_agent.core.usage import Usage
from amplifier_agent.server.chunks import ChunkWriter, completion_body, usage_json


def test_cached_tokens_are_present_when_zero() -> None:
    body = usage_json(Usage(input_tokens=7, output_tokens=3, cost_usd=None))
    assert body == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_cached_tokens_count_cache_reads_inside_prompt_tokens() -> None:
    usage = Usage(10, 5, cache_read_tokens=40, cache_write_tokens=2, cost_usd=Decimal("0.25"))
    body = usage_json(usage)
    assert (body["prompt_tokens"], body["total_tokens"]) == (52, 57)
    assert body["prompt_tokens_details"] == {"cached_tokens": 40}
    assert body["cost_usd"] == "0.25"


def test_no_usage_at_all_still_has_the_details() -> None:
    assert usage_json(None)["prompt_tokens_details"] == {"cached_tokens": 0}


def test_the_buffered_body_and_the_terminal_chunk_carry_the_same_usage() -> None:
    writer = ChunkWriter(model="m")
    usage = Usage(1, 2, cost_usd=None)
    buffered = orjson.loads(
        completion_body(writer, content="x", reasoning="", tool_calls=[], usage=usage)
    )
    terminal = orjson.loads(writer.terminal("stop", usage)[len(b"data: ") :])
    assert buffered["usage"] == terminal["usage"] == usage_json(usage)
    assert terminal["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
