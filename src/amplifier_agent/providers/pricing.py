"""Cost of one model call, as a Decimal: a `config.pricing` override, else genai-prices data.

Unknown price means unknown cost (None): never 0, never NaN. `local` is a known zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from amplifier_agent.core.usage import Usage

_MILLION = Decimal(1_000_000)

#: Our catalog modules mapped to genai-prices provider ids (None: let it infer from the model).
_GENAI_PRICES_PROVIDER: dict[str, str | None] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "azure-openai": "azure",
    "ollama": None,
    "chat-completions": None,
}


def price_call(
    usage: Usage, *, module: str, model: str, override: Mapping[str, Any] | None = None
) -> Decimal | None:
    """The USD cost of `usage` (its own cost field is ignored), or None when unknown."""
    if override is not None:
        return _price_from_rates(usage, override)
    if module == "local":
        return Decimal(0)
    if module == "ollama":
        # Self-hosted: genai-prices would match hosted prices of same-named open models.
        return None
    return _price_from_genai_prices(usage, module=module, model=model)


def validate_rates(rates: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first rate that is not a finite, non-negative number."""
    _price_from_rates(Usage(), rates)


def _decimal_rate(value: Any, name: str) -> Decimal:
    try:
        rate = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"pricing.{name} must be a number, got {value!r}") from exc
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"pricing.{name} must be a finite, non-negative number")
    return rate


def _price_from_rates(usage: Usage, rates: Mapping[str, Any]) -> Decimal:
    """(in*input + out*output + cr*cache_read + cw*cache_write) / 1e6; a missing cache rate
    uses the input rate."""
    input_rate = _decimal_rate(rates.get("input"), "input")
    output_rate = _decimal_rate(rates.get("output"), "output")
    read_rate = _decimal_rate(rates.get("cache_read", input_rate), "cache_read")
    write_rate = _decimal_rate(rates.get("cache_write", input_rate), "cache_write")
    total = (
        usage.input_tokens * input_rate
        + usage.output_tokens * output_rate
        + usage.cache_read_tokens * read_rate
        + usage.cache_write_tokens * write_rate
    )
    return total / _MILLION


def _price_from_genai_prices(usage: Usage, *, module: str, model: str) -> Decimal | None:
    import genai_prices  # deferred: its price snapshot is large and only needed at call end

    # genai-prices counts input_tokens as *all* input, cache buckets being subsets of it.
    priced_usage = genai_prices.Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calculation = genai_prices.calc_price(
                priced_usage, model, provider_id=_GENAI_PRICES_PROVIDER.get(module)
            )
    except LookupError:
        return None
    total = Decimal(calculation.total_price)
    return total if total.is_finite() else None
