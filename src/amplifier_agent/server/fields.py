"""Typed reads of decoded JSON request fields: each returns the value or raises the SPEC §8.4
400 (`missing_required_parameter`, `invalid_type`, `invalid_value`) naming the field's path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from amplifier_agent.server.errors import HttpError

JsonObject = dict[str, Any]


def bad_request(code: str, param: str | None, message: str) -> HttpError:
    return HttpError(400, code, message, param=param)


def missing(param: str) -> HttpError:
    return bad_request(
        "missing_required_parameter", param, f"Missing required parameter: '{param}'"
    )


def wrong_type(param: str, expected: str, value: object) -> HttpError:
    return bad_request(
        "invalid_type",
        param,
        f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead",
    )


def wrong_value(param: str, rule: str) -> HttpError:
    return bad_request("invalid_value", param, f"Invalid value for '{param}': {rule}")


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


def required(container: Mapping[str, Any], key: str, path: str | None = None) -> Any:
    """`container[key]`; absent is a missing parameter (`null` is left to the type check)."""
    if key not in container:
        raise missing(join(path, key))
    return container[key]


def as_object(value: object, param: str) -> JsonObject:
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    return value


def as_array(value: object, param: str, expected: str = "an array") -> list[Any]:
    if not isinstance(value, list):
        raise wrong_type(param, expected, value)
    return value


def as_string(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    return value


def as_nonempty_string(value: object, param: str) -> str:
    text = as_string(value, param)
    if not text:
        raise wrong_value(param, "must not be empty")
    return text


def optional_string(container: Mapping[str, Any], key: str, path: str | None = None) -> str | None:
    """`container[key]` when it is a string; absent or `null` is `None`."""
    value = container.get(key)
    return None if value is None else as_string(value, join(path, key))


def as_bool(value: object, param: str) -> bool:
    # No coercion: "true", 1 and 0 are not booleans.
    if not isinstance(value, bool):
        raise wrong_type(param, "a boolean", value)
    return value


def as_number(value: object, param: str) -> float:
    # bool is an int subclass in Python, but `true` is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(param, "a number", value)
    return float(value)


def as_int(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(param, "an integer", value)
    return value


def decode_object(body: bytes) -> JsonObject:
    """A request body decoded as one JSON object, else the 400 that says what is wrong."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("invalid_json", None, "The request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise bad_request("invalid_request", None, "The request body must be a JSON object")
    return document


def ranged(document: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = document.get(key)
    if value is None:
        return None
    number = as_number(value, key)
    if not low <= number <= high:
        raise wrong_value(key, f"must be between {low:g} and {high:g}")
    return number


def positive_int(document: Mapping[str, Any], key: str) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    number = as_int(value, key)
    if number < 1:
        raise wrong_value(key, "must be at least 1")
    return number
