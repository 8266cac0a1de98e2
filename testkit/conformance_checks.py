"""The six dispatch assertion kinds (SPEC §10.5), each evaluated against what a replay observed.

Matching: an expected object is a subset (each given key must be present and match, recursively;
`{"$absent": true}` requires the key to be missing); `{"$regex": "..."}` matches a string by
`re.search`; arrays match element by element with equal length; any other value must be equal
(a boolean never equals a number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Outcome = tuple[bool, str]
_INITIALIZE = ("initialize", "agent/initialize")
_ABSENT = {"$absent": True}


@dataclass
class Observed:
    """What a replay has seen so far: the method of each request id, responses, notifications."""

    methods: dict[Any, str] = field(default_factory=dict)
    responses: dict[Any, dict[str, Any]] = field(default_factory=dict)
    order: list[Any] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)

    def record_request(self, message: Mapping[str, Any]) -> None:
        if "id" in message and isinstance(message.get("method"), str):
            self.methods[_key(message["id"])] = message["method"]

    def record_response(self, response: dict[str, Any]) -> None:
        key = _key(response.get("id"))
        self.responses[key] = response
        self.order.append(key)


def _key(value: Any) -> Any:
    """Ids compare by JSON value: `1` and `"1"` stay distinct, unhashable ids become text."""
    return (type(value).__name__, value) if isinstance(value, str | int | None) else repr(value)


def mismatch(expected: Any, actual: Any, path: str = "$") -> str | None:
    """None when `actual` matches `expected`, else where and how it differs."""
    if isinstance(expected, dict) and set(expected) == {"$regex"}:
        pattern = expected["$regex"]
        if isinstance(actual, str) and re.search(pattern, actual):
            return None
        return f"{path}: {actual!r} does not match /{pattern}/"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        for key, want in expected.items():
            found = mismatch_key(key, want, actual, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {len(expected)} items, got {actual!r}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, got, f"{path}[{index}]")
            if found:
                return found
        return None
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    return (
        None
        if same_kind and expected == actual
        else f"{path}: expected {expected!r}, got {actual!r}"
    )


def mismatch_key(key: str, want: Any, actual: Mapping[str, Any], path: str) -> str | None:
    if want == _ABSENT:
        return f"{path}: must be absent, got {actual[key]!r}" if key in actual else None
    if key not in actual:
        return f"{path}: missing"
    return mismatch(want, actual[key], path)


def _need(assertion: Mapping[str, Any], *keys: str) -> None:
    missing = [key for key in keys if key not in assertion]
    if missing:
        raise ValueError(f"malformed assertion: missing {', '.join(missing)}")


def _matching(observed: Observed, method: str, subset: Any) -> tuple[list[Any], str | None]:
    """The notifications of `method` whose params match `subset`, and the first mismatch."""
    hits, first = [], None
    for note in observed.notifications:
        if note.get("method") != method:
            continue
        problem = mismatch(subset, note.get("params"), "params")
        if problem is None:
            hits.append(note)
        else:
            first = first or problem
    return hits, first


def notification_emitted(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    _need(assertion, "method")
    method = assertion["method"]
    hits, first = _matching(observed, method, assertion.get("params_subset", {}))
    if hits:
        return True, f"{len(hits)} matching {method} notification(s)"
    seen = [n.get("method") for n in observed.notifications]
    if first is None:
        return False, f"no {method} notification; saw {seen}"
    return False, f"no {method} notification matched; first difference: {first}"


def no_notification(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    _need(assertion, "method")
    method = assertion["method"]
    hits, _ = _matching(observed, method, assertion.get("params_subset", {}))
    if hits:
        return False, f"{len(hits)} {method} notification(s) emitted, first: {hits[0]}"
    return True, f"no matching {method} notification among {len(observed.notifications)}"


def _response(observed: Observed, request_id: Any) -> dict[str, Any] | None:
    return observed.responses.get(_key(request_id))


def error_returned(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    _need(assertion, "id", "code")
    response = _response(observed, assertion["id"])
    if response is None:
        return False, f"no response with id {assertion['id']!r}"
    error = response.get("error")
    if not isinstance(error, dict):
        return False, f"id {assertion['id']!r} succeeded: {response.get('result')!r}"
    problem = mismatch(assertion["code"], error.get("code"), "error.code")
    if problem is None and "data_code" in assertion:
        data = error.get("data")
        code = data.get("code") if isinstance(data, dict) else None
        problem = mismatch(assertion["data_code"], code, "error.data.code")
    return (False, problem) if problem else (True, f"error {error}")


def response_matches(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    _need(assertion, "id", "result_subset")
    response = _response(observed, assertion["id"])
    if response is None:
        return False, f"no response with id {assertion['id']!r}"
    if "result" not in response:
        return False, f"id {assertion['id']!r} failed: {response.get('error')!r}"
    problem = mismatch(assertion["result_subset"], response["result"], "result")
    return (False, problem) if problem else (True, "result matched")


def notification_order(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    """The named methods, in emission order with repeats in a row collapsed, equal `methods`
    (optionally only notifications of one `turnId`)."""
    _need(assertion, "methods")
    wanted, turn_id = list(assertion["methods"]), assertion.get("turnId")
    sequence: list[str] = []
    for note in observed.notifications:
        method, params = note.get("method"), note.get("params") or {}
        if method not in wanted or (turn_id is not None and params.get("turnId") != turn_id):
            continue
        if not sequence or sequence[-1] != method:
            sequence.append(str(method))
    if sequence == wanted:
        return True, f"order {sequence}"
    return False, f"expected order {wanted}, got {sequence}"


def session_state(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    """The `sessionState` of the given (else the latest successful) `initialize`."""
    _need(assertion, "sessionId", "resumed")
    if "id" in assertion:
        response = _response(observed, assertion["id"])
    else:
        answered = [k for k in observed.order if observed.methods.get(k) in _INITIALIZE]
        ok = [k for k in answered if "result" in observed.responses[k]]
        response = observed.responses[ok[-1]] if ok else None
    if response is None or not isinstance(response.get("result"), dict):
        return False, "no successful initialize response"
    state = response["result"].get("sessionState")
    expected = {"sessionId": assertion["sessionId"], "resumed": assertion["resumed"]}
    problem = mismatch(expected, state, "sessionState")
    return (False, problem) if problem else (True, f"sessionState {state}")


_EVALUATORS: dict[str, Callable[[Mapping[str, Any], Observed], Outcome]] = {
    "notification_emitted": notification_emitted,
    "no_notification": no_notification,
    "error_returned": error_returned,
    "response_matches": response_matches,
    "notification_order": notification_order,
    "session_state": session_state,
}
ASSERTION_KINDS = frozenset(_EVALUATORS)


def evaluate(assertion: Mapping[str, Any], observed: Observed) -> Outcome:
    """Evaluate one assertion; a malformed one fails with the reason."""
    try:
        return _EVALUATORS[assertion["kind"]](assertion, observed)
    except (ValueError, TypeError, KeyError) as exc:
        return False, str(exc)


__all__ = ["ASSERTION_KINDS", "Observed", "evaluate", "mismatch"]
