"""CPU spent per streamed chunk by each provider adapter, in process, as a JSON report.

    python bench/provider_stream.py [--chunks 2000] [--calls 30] [--history 20] [--tools 10]

Each adapter streams a text reply of `--chunks` deltas through its official SDK. The SSE body is
rendered once by the testkit wire formats and answered by an in-memory HTTP transport, so the
measured process time is the adapter's alone: request building, the SDK's request path, reading
and decoding the stream, and the neutral events. Each request carries `--history` earlier messages
and `--tools` tool schemas, as an agent's turn does. The per-chunk figure is the slope between a
long and a one-chunk reply, which cancels out the per-call overhead; the per-call figure is the
one-chunk reply's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amplifier_agent.core.messages import AssistantMessage, Message, ToolSpec, UserMessage
from amplifier_agent.providers.anthropic import AnthropicProvider
from amplifier_agent.providers.base import ModelRequest, Provider, ProviderSettings
from amplifier_agent.providers.chat_completions import ChatCompletionsProvider
from testkit import anthropic_wire, openai_wire
from testkit.script import Block, Reply
from testkit.wire import WireFormat

MODEL = "bench-model"
ProviderFactory = Callable[[httpx2.AsyncClient], Provider]


def _body(wire: WireFormat, chunks: int) -> bytes:
    pieces = [f"word{i} " for i in range(chunks)]
    reply = Reply(blocks=[Block(type="text", chunks=pieces)])
    return b"".join(wire.stream_events(reply, MODEL))


def _client(body: bytes) -> httpx2.AsyncClient:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return httpx2.AsyncClient(transport=httpx2.MockTransport(answer))


def _anthropic(http: httpx2.AsyncClient) -> Provider:
    settings = ProviderSettings("claude", "anthropic", api_key="bench-key", endpoint="http://x")
    return AnthropicProvider(settings, http_client=http)


def _openai(http: httpx2.AsyncClient) -> Provider:
    settings = ProviderSettings("gpt", "openai", api_key="bench-key", endpoint="http://x/v1")
    return ChatCompletionsProvider(settings, http_client=http)


def _request(history: int, tools: int) -> ModelRequest:
    earlier: list[Message] = [
        UserMessage(f"question {i} " * 20) if i % 2 == 0 else AssistantMessage(f"answer {i} " * 40)
        for i in range(history)
    ]
    schema = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
    specs = tuple(ToolSpec(f"tool_{i}", f"Tool number {i}.", schema) for i in range(tools))
    return ModelRequest(model=MODEL, messages=(*earlier, UserMessage("hi")), tools=specs)


async def _cpu_per_call(
    factory: ProviderFactory, body: bytes, calls: int, request: ModelRequest
) -> float:
    """Median process-time seconds of one whole streamed call."""
    provider = factory(_client(body))
    samples: list[float] = []
    for index in range(calls + 3):
        started = time.process_time()
        async for _ in provider.stream(request):
            pass
        if index >= 3:  # the first calls warm up imports and caches
            samples.append(time.process_time() - started)
    await provider.aclose()
    samples.sort()
    return samples[len(samples) // 2]


async def _measure(factory: ProviderFactory, wire: WireFormat, args: argparse.Namespace) -> Any:
    request, chunks = _request(args.history, args.tools), args.chunks
    one = await _cpu_per_call(factory, _body(wire, 1), args.calls, request)
    many = await _cpu_per_call(factory, _body(wire, chunks), args.calls, request)
    return {
        "chunks": chunks,
        "history_messages": args.history,
        "tools": args.tools,
        "cpu_us_per_call": round(one * 1e6, 1),
        "cpu_us_per_chunk": round((many - one) / (chunks - 1) * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--tools", type=int, default=10)
    args = parser.parse_args()
    report = {
        name: asyncio.run(_measure(factory, wire, args))
        for name, factory, wire in (
            ("anthropic", _anthropic, anthropic_wire),
            ("chat_completions", _openai, openai_wire),
        )
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
