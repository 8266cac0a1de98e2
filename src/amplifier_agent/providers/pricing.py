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

#: Modules whose cost is known without genai-prices: `local` is free; `ollama` is self-hosted,
#: where genai-prices would match hosted prices of same-named open models, so it is unknown.
_PRICED_WITHOUT_DATA: dict[str, Decimal | None] = {"local": Decimal(0), "ollama": None}


def price_call(
    usage: Usage, *, module: str, model: str, override: Mapping[str, Any] | None = None
) -> Decimal | None:
    """The USD cost of `usage` (its own cost field is ignored), or None when unknown."""
    if override is not None:
        return _price_from_rates(usage, override)
    if module in _PRICED_WITHOUT_DATA:
        return _PRICED_WITHOUT_DATA[module]
    return _price_from_genai_prices(usage, module=module, model=model)


def uses_price_data(module: str, *, overridden: bool) -> bool:
    """Whether `price_call` for `module` reads genai-prices' data (see `price_call`)."""
    return not overridden and module not in _PRICED_WITHOUT_DATA


def load_price_data() -> None:
    """Load genai-prices' data now instead of in the first priced call, which would otherwise
    wait for it (a large module: tenths of a second and a few MiB)."""
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()


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


#: Results of genai-prices by (module, model, its four token counts): a server answers the same
#: models all day, and one calculation costs about 0.1 ms (a model it does not know, a scan of
#: every model it does). Only models whose price cannot change with the date are kept, so a
#: remembered result is exactly what a fresh calculation would give.
_RESULTS: dict[tuple[str, str, int, int, int, int], Decimal | None] = {}
#: (module, model) -> whether its price is the same whatever the date (unknown models: yes).
_DATELESS: dict[tuple[str, str], bool] = {}
#: Bounds on both (model names come from requests): full means cleared, not grown.
_CACHE_LIMIT = 1024


def _price_from_genai_prices(usage: Usage, *, module: str, model: str) -> Decimal | None:
    key = (
        module,
        model,
        usage.prompt_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    if key in _RESULTS:
        return _RESULTS[key]
    price = _calculate(usage, module=module, model=model)
    if _price_is_dateless(module, model):
        _bounded_put(_RESULTS, key, price)
    return price


def _bounded_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _price_is_dateless(module: str, model: str) -> bool:
    dateless = _DATELESS.get((module, model))
    if dateless is None:
        dateless = _lookup_dateless(module, model)
        _bounded_put(_DATELESS, (module, model), dateless)
    return dateless


def _lookup_dateless(module: str, model: str) -> bool:
    """True when genai-prices has one unconditional price for the model, or none at all (its
    data does not change while the process runs); False when the date can change it. (Its price
    variants apply only to a price context, which is never passed.)"""
    from genai_prices import data_snapshot, types

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(
            model, None, _GENAI_PRICES_PROVIDER.get(module), None
        )
    except LookupError:
        return True
    return isinstance(info.prices, types.ModelPrice)


def _calculate(usage: Usage, *, module: str, model: str) -> Decimal | None:
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
