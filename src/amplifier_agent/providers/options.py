"""The provider `config` keys the adapters read (SPEC §5.2), parsed once into a typed value.

Settings are built when a provider is loaded, so a bad value is a `config_invalid_type` error then,
not a failure in the middle of a turn; the adapters never re-read the open mapping by string key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from amplifier_agent.core.errors import ConfigError
from amplifier_agent.providers.pricing import validate_rates

#: Default time a model call may go without receiving a byte before it is a stall.
DEFAULT_STALL_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class ProviderOptions:
    """`None` means: not configured. `stall_timeout_s` None disables the stall watchdog."""

    default_model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    effort: str | None = None
    thinking_budget_tokens: int = 0
    stall_timeout_s: float | None = DEFAULT_STALL_TIMEOUT_S
    pricing: Mapping[str, Any] | None = None
    models: tuple[str, ...] = ()

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> ProviderOptions:
        stall = _number(config, "stall_timeout_s", minimum=0)
        pricing = config.get("pricing")
        return cls(
            default_model=_text(config, "default_model"),
            max_tokens=_integer(config, "max_tokens", minimum=1),
            temperature=_number(config, "temperature", minimum=0),
            top_p=_number(config, "top_p", minimum=0, maximum=1),
            effort=_text(config, "effort"),
            thinking_budget_tokens=_integer(config, "thinking_budget_tokens", minimum=0) or 0,
            stall_timeout_s=DEFAULT_STALL_TIMEOUT_S if stall is None else (stall or None),
            pricing=None if pricing is None else _pricing(pricing),
            models=_texts(config, "models"),
        )


def _invalid(key: str, problem: str) -> ConfigError:
    return ConfigError(f"provider config.{key}: {problem}", code="config_invalid_type")


def _number(
    config: Mapping[str, Any], key: str, *, minimum: float, maximum: float | None = None
) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(key, f"must be a number, not {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = (
            f"between {minimum:g} and {maximum:g}" if maximum is not None else f">= {minimum:g}"
        )
        raise _invalid(key, f"must be {bounds}")
    return float(value)


def _integer(config: Mapping[str, Any], key: str, *, minimum: int) -> int | None:
    number = _number(config, key, minimum=minimum)
    if number is None:
        return None
    if not number.is_integer():
        raise _invalid(key, f"must be an integer, not {config[key]!r}")
    return int(number)


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(key, f"must be a string, not {value!r}")
    return value or None


def _texts(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = config.get(key) or []
    if not isinstance(value, list | tuple):
        raise _invalid(key, f"must be an array of strings, not {value!r}")
    return tuple(str(item) for item in value)


def _pricing(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid("pricing", f"must be an object, not {value!r}")
    try:
        validate_rates(value)
    except ValueError as exc:  # its text already names the rate: "pricing.input must be ..."
        raise ConfigError(f"provider config.{exc}", code="config_invalid_type") from exc
    return MappingProxyType(dict(value))
