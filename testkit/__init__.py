"""Loopback fake LLM upstreams speaking the Anthropic Messages and OpenAI Chat Completions wires.

Importable by tests (`FakeUpstream`) and runnable as a process (`python -m testkit`).
"""

from testkit.script import Block, Reply, reply_text, reply_tool_calls
from testkit.server import FakeUpstream, RecordedRequest

__all__ = [
    "Block",
    "FakeUpstream",
    "RecordedRequest",
    "Reply",
    "reply_text",
    "reply_tool_calls",
]
