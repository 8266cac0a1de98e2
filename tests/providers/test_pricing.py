"""Cost of a model call (SPEC §6.9): config overrides, genai-prices data, unknown and zero."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from amplifier_agent.core.usage import Usage, format_decimal
from amplifier_agent.providers.pricing import _price_is_dateless, price_call

MILLION = Decimal(1_000_000)
#: 1000 fresh input tokens, 500 output, 2000 read from cache, 400 written to it.
USAGE = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=2000, cache_write_tokens=400)


def expected_cost(usage: Usage, inp: str, out: str, read: str, write: str) -> Decimal:
    """§6.9's formula, computed here from per-million rates."""
    return (
        usage.input_tokens * Decimal(inp)
        + usage.output_tokens * Decimal(out)
        + usage.cache_read_tokens * Decimal(read)
        + usage.cache_write_tokens * Decimal(write)
    ) / MILLION


class TestConfigOverride:
    def test_uses_every_rate(self) -> None:
        rates = {"input": "3", "output": 15, "cache_read": 0.3, "cache_write": "3.75"}
        cost = price_call(USAGE, module="openai", model="gpt-4o", override=rates)
        assert cost == Decimal("0.0126")
        assert cost == expected_cost(USAGE, "3", "15", "0.3", "3.75")

    def test_missing_cache_rates_use_the_input_rate(self) -> None:
        cost = price_call(USAGE, module="openai", model="x", override={"input": 2, "output": 8})
        assert cost == Decimal("0.0108")

    def test_one_missing_cache_rate_uses_the_input_rate(self) -> None:
        rates = {"input": 2, "output": 8, "cache_write": 10}
        cost = price_call(USAGE, module="openai", model="x", override=rates)
        assert cost == expected_cost(USAGE, "2", "8", "2", "10")

    def test_float_rates_are_taken_at_their_decimal_spelling(self) -> None:
        usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
        cost = price_call(usage, module="openai", model="x", override={"input": 0.1, "output": 0.2})
        assert cost == Decimal("0.3")

    def test_applies_even_where_the_price_is_otherwise_unknown_or_zero(self) -> None:
        rates = {"input": 1, "output": 1}
        for module in ("ollama", "local", "chat-completions"):
            assert price_call(USAGE, module=module, model="m", override=rates) == Decimal("0.0039")

    @pytest.mark.parametrize(
        "bad", ["nan", "NaN", "inf", "-Infinity", float("inf"), -1, "abc", True]
    )
    @pytest.mark.parametrize("field", ["input", "output", "cache_read", "cache_write"])
    def test_rejects_non_finite_negative_or_non_numeric_rates(self, field: str, bad: Any) -> None:
        rates: dict[str, Any] = {"input": 1, "output": 1, field: bad}
        with pytest.raises(ValueError, match=f"pricing.{field}"):
            price_call(USAGE, module="openai", model="gpt-4o", override=rates)

    @pytest.mark.parametrize("required", ["input", "output"])
    def test_rejects_a_missing_required_rate(self, required: str) -> None:
        rates = {"input": 1, "output": 1}
        del rates[required]
        with pytest.raises(ValueError, match=f"pricing.{required}"):
            price_call(USAGE, module="openai", model="gpt-4o", override=rates)


class TestPackagedPrices:
    def test_anthropic_model_prices_every_bucket(self) -> None:
        # genai-prices, anthropic / claude-sonnet-4-5 (below the 200k tier), USD per million:
        # input 3, output 15, cache read 0.3, cache write 3.75.
        cost = price_call(USAGE, module="anthropic", model="claude-sonnet-4-5")
        assert cost == expected_cost(USAGE, "3", "15", "0.3", "3.75")

    def test_cached_input_is_not_billed_twice(self) -> None:
        cached = Usage(cache_read_tokens=100_000)
        assert price_call(cached, module="anthropic", model="claude-sonnet-4-5") == Decimal("0.03")

    def test_openai_model(self) -> None:
        # genai-prices, openai / gpt-4o, USD per million: input 2.5, output 10, cache read 1.25.
        usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=2000)
        cost = price_call(usage, module="openai", model="gpt-4o")
        assert cost == expected_cost(usage, "2.5", "10", "1.25", "0")
        assert cost == Decimal("0.01")

    def test_the_usage_own_cost_is_ignored(self) -> None:
        stale = Usage(input_tokens=1_000_000, cost_usd=Decimal(99))
        assert price_call(stale, module="openai", model="gpt-4o") == Decimal("2.5")

    @pytest.mark.parametrize("module", ["openai", "anthropic", "chat-completions", "azure-openai"])
    def test_unknown_model_has_unknown_cost(self, module: str) -> None:
        assert price_call(USAGE, module=module, model="no-such-model-2099") is None

    def test_ollama_is_unknown_even_for_a_priced_model_name(self) -> None:
        assert price_call(USAGE, module="openai", model="gpt-4o") is not None
        assert price_call(USAGE, module="ollama", model="gpt-4o") is None

    def test_local_is_a_known_zero(self) -> None:
        cost = price_call(USAGE, module="local", model="smollm2-135m-instruct")
        assert isinstance(cost, Decimal)
        assert cost == 0
        assert format_decimal(cost) == "0"


class TestRememberedPrices:
    """A server prices the same models all day: results are remembered, never changed by it."""

    USAGES = (USAGE, Usage(input_tokens=7), Usage(output_tokens=3, cache_write_tokens=11))

    @pytest.mark.parametrize(
        ("module", "model"),
        [
            ("openai", "gpt-4o"),
            ("anthropic", "claude-sonnet-4-5"),
            ("anthropic", "claude-sonnet-4-6"),
        ],
    )
    def test_repeated_calls_give_exactly_the_packaged_price(self, module: str, model: str) -> None:
        for usage in self.USAGES:
            fresh = _genai_prices_total(usage, module, model)
            answers = {price_call(usage, module=module, model=model) for _ in range(3)}
            assert answers == {fresh}
            assert format_decimal(answers.pop()) == format_decimal(fresh)

    def test_only_prices_that_cannot_change_with_the_date_are_remembered(self) -> None:
        assert _price_is_dateless("openai", "gpt-4o")
        assert _price_is_dateless("chat-completions", "no-such-model-2099")
        # genai-prices lists claude-sonnet-4-6 with date-bound prices.
        assert not _price_is_dateless("anthropic", "claude-sonnet-4-6")

    def test_an_unknown_model_stays_unknown(self) -> None:
        for _ in range(3):
            assert price_call(USAGE, module="chat-completions", model="no-such-model-2099") is None


def _genai_prices_total(usage: Usage, module: str, model: str) -> Decimal:
    import genai_prices

    priced = genai_prices.Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return Decimal(genai_prices.calc_price(priced, model, provider_id=module).total_price)


class TestFormatDecimal:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("0.0123", "0.0123"),
            ("2", "2"),
            ("2.000", "2"),
            ("0.10", "0.1"),
            ("100", "100"),
            ("1E+3", "1000"),
            ("1.50E-7", "0.00000015"),
            ("0E-12", "0"),
            ("0.00", "0"),
            ("-0.00", "0"),
            ("-1.250", "-1.25"),
        ],
    )
    def test_plain_string_without_exponent_or_trailing_zeros(self, value: str, text: str) -> None:
        assert format_decimal(Decimal(value)) == text

    @pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
    def test_non_finite_is_rejected(self, value: str) -> None:
        with pytest.raises(ValueError, match="finite"):
            format_decimal(Decimal(value))


class TestUsageSum:
    def test_sums_every_bucket_and_the_cost(self) -> None:
        a = Usage(1, 2, 3, 4, Decimal("0.5"))
        b = Usage(10, 20, 30, 40, Decimal("0.25"))
        assert a + b == Usage(11, 22, 33, 44, Decimal("0.75"))

    @pytest.mark.parametrize(
        "costs", [(None, Decimal(1)), (Decimal(1), None), (None, None)], ids=str
    )
    def test_unknown_cost_makes_the_sum_unknown(
        self, costs: tuple[Decimal | None, Decimal | None]
    ) -> None:
        total = Usage(input_tokens=1, cost_usd=costs[0]) + Usage(input_tokens=2, cost_usd=costs[1])
        assert total.cost_usd is None
        assert total.input_tokens == 3

    def test_unknown_cost_stays_unknown_through_later_known_calls(self) -> None:
        total = Usage(cost_usd=Decimal(1)) + Usage(cost_usd=None) + Usage(cost_usd=Decimal(2))
        assert total.cost_usd is None

    def test_zero_cost_is_known(self) -> None:
        assert (Usage(cost_usd=Decimal(0)) + Usage(cost_usd=Decimal(0))).cost_usd == Decimal(0)

    def test_prompt_tokens_count_everything_read(self) -> None:
        assert USAGE.prompt_tokens == 3400
