"""The protocol 0.3.0 JSON schemas kept in `conformance/schemas/`, as a host validates with them:
each notification's `params`, each method's result and each JSON-RPC error object."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[2] / "conformance" / "schemas"

#: Result schemas by method; `agent/initialize` is `initialize`.
RESULT_SCHEMAS = {
    "initialize": "results/initialize.json",
    "agent/initialize": "results/initialize.json",
    "session/create": "results/session-create.json",
    "turn/submit": "results/turn-submit.json",
    "turn/cancel": "results/turn-cancel.json",
    "session/end": "results/session-end.json",
    "agent/shutdown": "results/agent-shutdown.json",
    "cache/info": "results/cache-info.json",
}


def schema_files() -> list[Path]:
    return sorted(SCHEMAS.rglob("*.json"))


def load(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS / relative).read_text("utf-8"))
    return document


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in schema_files():
        document = json.loads(path.read_text("utf-8"))
        resources.append((document["$id"], Resource.from_contents(document)))
    return Registry().with_resources(resources)


def _validator(relative: str) -> Draft202012Validator:
    return Draft202012Validator(load(relative), registry=_registry())


def _problems(relative: str, instance: Any, where: str) -> list[str]:
    return [
        f"{where}: {error.message} (at {error.json_path}, schema {relative})"
        for error in _validator(relative).iter_errors(instance)
    ]


def notification_problems(notification: Mapping[str, Any]) -> list[str]:
    """The envelope against `notification.json`, `params` against its method's schema."""
    method = notification.get("method")
    problems = _problems("notification.json", notification, f"notification {method}")
    if problems or not isinstance(method, str):
        return problems
    schema = f"notifications/{method.replace('/', '-')}.json"
    return _problems(schema, notification["params"], f"{method} params")


def response_problems(method: str, response: Mapping[str, Any]) -> list[str]:
    """A JSON-RPC response: its `result` against the method's schema, or its `error`."""
    if "error" in response:
        return _problems("rpc-error.json", response["error"], f"{method} error")
    return _problems(RESULT_SCHEMAS[method], response.get("result"), f"{method} result")


def object_schemas(schema: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema describing an object's fields, and where it is (free-form objects such
    as a tool's `args` have no `properties`)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            yield path, schema
        for key, value in schema.items():
            yield from object_schemas(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from object_schemas(value, f"{path}[{index}]")
