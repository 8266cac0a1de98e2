"""Stream one completion from the embedded local model (SmolLM2-135M-Instruct), then its usage.

    python scripts/demo.py "Say hello in five words."

No API key and no network are involved: the model runs in-process through llama-cpp-python.
"""

from __future__ import annotations

import asyncio
import sys

from amplifier_agent.core.messages import UserMessage
from amplifier_agent.core.stream import CallDone, TextDelta
from amplifier_agent.core.usage import format_decimal
from amplifier_agent.engine import build_provider
from amplifier_agent.providers.base import ModelRequest


async def stream_once(prompt: str) -> None:
    provider = build_provider("local", "local", {})
    request = ModelRequest(
        model="smollm2-135m-instruct", messages=(UserMessage(prompt),), max_tokens=64
    )
    try:
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, CallDone):
                usage = event.usage
                cost = "unknown" if usage.cost_usd is None else f"${format_decimal(usage.cost_usd)}"
                sys.stdout.write(
                    f"\n[usage] model={event.model} provider={event.provider} "
                    f"prompt_tokens={usage.prompt_tokens} completion_tokens={usage.output_tokens} "
                    f"cost={cost} duration_ms={event.duration_ms}\n"
                )
    finally:
        await provider.aclose()


if __name__ == "__main__":
    asyncio.run(stream_once(" ".join(sys.argv[1:]) or "Say hello in five words."))
