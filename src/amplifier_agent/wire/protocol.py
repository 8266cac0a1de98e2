"""Protocol 0.3.0 shapes (SPEC §10.2, §10.3): the version rule, capability negotiation, JSON-RPC
request parsing, error objects and the readers of method params."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amplifier_agent import PROTOCOL_VERSION
from amplifier_agent.core.errors import AmplifierError, classify
from amplifier_agent.wire.events import DISPLAY_EVENT_TYPES

JSONRPC_VERSION = "2.0"
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
ENGINE_ERROR = -32000

#: What the server offers; a result is the sorted intersection with the client's offer.
APPROVAL_ACTIONS: tuple[str, ...] = ("accept", "decline", "cancel")

#: The codes a JSON-RPC error or an `error` notification may carry (SPEC §7.4).
WIRE_CODES = frozenset(
    {
        "agent_not_ready",
        "approval_denied",
        "approval_protocol_violation",
        "approval_timeout",
        "approval_translation_failed",
        "bundle_load_failed",
        "cancelled",
        "config_validation",
        "env_injection_rejected",
        "internal",
        "invalid_session",
        "prompt_required",
        "protocol_version_mismatch",
        "provider_init_failed",
        "provider_not_configured",
        "runtime",
        "session_busy",
        "session_not_found",
        "spawn_failed",
        "stale_session",
        "tool_execution_failed",
        "wire_protocol_violation",
    }
)

_TURN_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RpcError(Exception):
    """A JSON-RPC error object: `code`, `message` and optional `data`."""

    def __init__(self, code: int, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data) if data is not None else None

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _data(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "classification": classify(code), "message": message}


def wire_code(code: str) -> str:
    """An engine error code as one of the wire codes: config and argv problems are
    `config_validation`, a missing adapter is `provider_init_failed`, the rest `internal`."""
    if code in WIRE_CODES:
        return code
    if code.startswith(("config_", "argv_")) or code in ("credentials_corrupt",):
        return "config_validation"
    if code == "module_not_installed":
        return "provider_init_failed"
    return "internal"


def engine_error(error: AmplifierError) -> RpcError:
    """An engine error as `-32000` with `data:{code, classification, message}`; configuration
    problems in a method's params are `-32602` (`config_validation`)."""
    code = wire_code(error.code)
    message = error.message if code == error.code else f"{error.code}: {error.message}"
    if code == "config_validation":
        return invalid_params(message)
    return RpcError(ENGINE_ERROR, message, _data(code, message))


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message, _data("config_validation", message))


def invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message, _data("wire_protocol_violation", message))


def parse_error(message: str) -> RpcError:
    return RpcError(PARSE_ERROR, message, _data("wire_protocol_violation", message))


def method_not_found(method: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, f"method not found: {method}")


SKEW_REMEDIATION = (
    'set "allowProtocolSkew": true in host_config or in the initialize params to accept a '
    "different protocol version"
)


def check_protocol_version(received: str, *, allow_skew: bool) -> None:
    """Strict string equality with `PROTOCOL_VERSION` unless skew is allowed; the error data
    names both versions the way the 0.3.0 schema does (`clientVersion`, `serverVersion`)."""
    if received == PROTOCOL_VERSION or allow_skew:
        return
    message = f"client speaks protocol {received}, the engine {PROTOCOL_VERSION}"
    data = _data("protocol_version_mismatch", message)
    data.update(
        clientVersion=received, serverVersion=PROTOCOL_VERSION, remediation=SKEW_REMEDIATION
    )
    raise RpcError(ENGINE_ERROR, message, data)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """A negotiated capability set; only `display_events` are emitted as notifications."""

    approval_actions: tuple[str, ...] = ()
    display_events: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "approval": {"actions": list(self.approval_actions)},
            "display": {"events": list(self.display_events)},
        }

    def emits(self, method: str) -> bool:
        return method in self.display_events


def negotiate(client: Any) -> Capabilities:
    """The sorted intersection of the client's `capabilities` with the server's offer; an
    omitted section comes back empty."""
    if client is None:
        client = {}
    if not isinstance(client, Mapping):
        raise invalid_params("capabilities must be an object")
    actions = _offered(client, "approval", "actions")
    events = _offered(client, "display", "events")
    return Capabilities(
        approval_actions=tuple(sorted(actions & set(APPROVAL_ACTIONS))),
        display_events=tuple(sorted(events & set(DISPLAY_EVENT_TYPES))),
    )


def _offered(client: Mapping[str, Any], section: str, key: str) -> set[str]:
    value = client.get(section)
    if value is None:
        return set()
    if not isinstance(value, Mapping):
        raise invalid_params(f"capabilities.{section} must be an object")
    items = value.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise invalid_params(f"capabilities.{section}.{key} must be an array of strings")
    return set(items)


@dataclass(frozen=True, slots=True)
class Request:
    """A well-formed JSON-RPC request; `notification` when it carried no `id`."""

    id: str | int | None
    method: str
    params: Any
    notification: bool


def parse_request(message: Any) -> Request:
    """Check the JSON-RPC 2.0 envelope; a malformed one is `-32600`."""
    if not isinstance(message, Mapping):
        raise invalid_request("a request must be a JSON object")
    if message.get("jsonrpc") != JSONRPC_VERSION:
        raise invalid_request('"jsonrpc" must be "2.0"')
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise invalid_request('"method" must be a non-empty string')
    request_id = message.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, str | int)
    ):
        raise invalid_request('"id" must be a string, an integer or null')
    return Request(request_id, method, message.get("params"), "id" not in message)


def request_id_of(message: Any) -> str | int | None:
    """The id to answer a malformed request with: its own when usable, else null."""
    if isinstance(message, Mapping):
        value = message.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    return None


def result_response(request_id: str | int | None, result: Any) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION, "id": request_id, "result": result}


def error_response(request_id: str | int | None, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC_VERSION, "id": request_id, "error": error.to_json()}


class Params:
    """Typed reads of one method's `params`; a wrong type is `-32602` naming the field."""

    def __init__(self, method: str, params: Any) -> None:
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise invalid_params(f"{method}: params must be an object")
        self.method = method
        self.values: Mapping[str, Any] = params

    def _fail(self, name: str, expected: str) -> RpcError:
        return invalid_params(f"{self.method}: {name} must be {expected}")

    def string(self, name: str) -> str:
        value = self.values.get(name)
        if not isinstance(value, str):
            raise self._fail(name, "a string")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else self.string(name)

    def flag(self, name: str) -> bool:
        value = self.values.get(name, False)
        if not isinstance(value, bool):
            raise self._fail(name, "a boolean")
        return value

    def optional_object(self, name: str) -> Mapping[str, Any] | None:
        value = self.values.get(name)
        if value is not None and not isinstance(value, Mapping):
            raise self._fail(name, "an object")
        return value

    def objects(self, name: str) -> tuple[Mapping[str, Any], ...]:
        value = self.values.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._fail(name, "an array of objects")
        return tuple(value)

    def turn_id(self, name: str = "turnId") -> str:
        value = self.string(name)
        if not _TURN_ID_RE.fullmatch(value):
            raise self._fail(name, f"a string matching {_TURN_ID_RE.pattern}")
        return value


__all__ = [
    "APPROVAL_ACTIONS",
    "ENGINE_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "JSONRPC_VERSION",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PROTOCOL_VERSION",
    "SKEW_REMEDIATION",
    "WIRE_CODES",
    "Capabilities",
    "Params",
    "Request",
    "RpcError",
    "check_protocol_version",
    "engine_error",
    "error_response",
    "invalid_params",
    "invalid_request",
    "method_not_found",
    "negotiate",
    "parse_error",
    "parse_request",
    "request_id_of",
    "result_response",
    "wire_code",
]
