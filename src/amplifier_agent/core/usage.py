"""Token usage and cost of model calls; cost is a Decimal or unknown (None), never 0 by default."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one model call or a sum of calls.

    `input_tokens` counts only non-cached input; cached reads and cache writes have their own
    buckets. `cost_usd` is None when any summed call had no known price.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal | None = Decimal(0)

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            cost_usd=cost,
        )

    @property
    def prompt_tokens(self) -> int:
        """Everything the model read: the OpenAI `prompt_tokens` and envelope `tokensIn`."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


def format_decimal(value: Decimal) -> str:
    """A plain decimal string: no exponent, no trailing zeros (`"0.0123"`, `"2"`)."""
    if not value.is_finite():
        raise ValueError(f"cost must be finite, got {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text
