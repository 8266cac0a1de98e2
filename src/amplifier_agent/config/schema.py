"""Small validators for untrusted JSON: each failure is a `ConfigError` naming the JSON path, with
`config_unknown_key` for keys outside a closed object and `config_invalid_type` for the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from amplifier_agent.core.errors import ConfigError

_LOG = logging.getLogger(__name__)


def join(where: str, key: str) -> str:
    return key if not where else f"{where}.{key}"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def invalid(where: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: {problem}", code="config_invalid_type")


def check_closed(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = tuple(allowed)
    for key in obj:
        if key not in allowed:
            raise ConfigError(
                f"{join(where, key)}: unknown key (allowed: {', '.join(allowed)})",
                code="config_unknown_key",
            )


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(where, f"must be an object, not {type_name(value)}")
    return value


def as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise invalid(where, f"must be a string, not {type_name(value)}")
    return value


def as_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(where, f"must be true or false, not {type_name(value)}")
    return value


def as_str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise invalid(where, f"must be an array of strings, not {type_name(value)}")
    return tuple(as_str(item, f"{where}[{index}]") for index, item in enumerate(value))


def _number(value: Any, where: str, *, minimum: float, integer: bool) -> None:
    is_number = isinstance(value, int) or (isinstance(value, float) and not integer)
    if isinstance(value, bool) or not is_number:
        kind = "an integer" if integer else "a number"
        raise invalid(where, f"must be {kind}, not {type_name(value)}")
    if value < minimum:
        raise invalid(where, f"must be at least {minimum:g}")


def _str_field(value: Any, where: str) -> None:
    as_str(value, where)


def _pricing(value: Any, where: str) -> None:
    obj = as_object(value, where)
    check_closed(obj, ("input", "output", "cache_read", "cache_write"), where)
    for required in ("input", "output"):
        if required not in obj:
            raise invalid(join(where, required), "is required")
    for key, price in obj.items():
        _number(price, join(where, key), minimum=0, integer=False)


def _top_p(value: Any, where: str) -> None:
    _number(value, where, minimum=0, integer=False)
    if value > 1:
        raise invalid(where, "must be at most 1")


def _str_list_field(value: Any, where: str) -> None:
    as_str_list(value, where)


#: Checks for the provider `config` keys this engine reads (SPEC §5.2); other keys pass through.
_PROVIDER_CONFIG_CHECKS: Mapping[str, Callable[[Any, str], None]] = MappingProxyType(
    {
        "default_model": _str_field,
        "base_url": _str_field,
        "api_key_env": _str_field,
        "api_version": _str_field,
        "effort": _str_field,
        "model_path": _str_field,
        "max_tokens": lambda v, w: _number(v, w, minimum=1, integer=True),
        "context_window": lambda v, w: _number(v, w, minimum=1, integer=True),
        "thinking_budget_tokens": lambda v, w: _number(v, w, minimum=0, integer=True),
        "temperature": lambda v, w: _number(v, w, minimum=0, integer=False),
        "top_p": _top_p,
        "stall_timeout_s": lambda v, w: _number(v, w, minimum=0, integer=False),
        "pricing": _pricing,
        "models": _str_list_field,
    }
)


def provider_config(value: Any, where: str) -> Mapping[str, Any]:
    """An open provider `config` object. `api_key` is dropped with a warning: keys come only from
    the environment or credentials.json."""
    obj = dict(as_object(value, where))
    if "api_key" in obj:
        del obj["api_key"]
        _LOG.warning(
            "%s is ignored; keys come from the environment or credentials.json",
            join(where, "api_key"),
        )
    for key, check in _PROVIDER_CONFIG_CHECKS.items():
        if key in obj:
            check(obj[key], join(where, key))
    return MappingProxyType(obj)
