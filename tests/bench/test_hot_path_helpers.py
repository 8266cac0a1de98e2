"""The pure parts of the HTTP hot-path benchmark: sample windows, framing and profile tallies."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """The bench scripts import each other as top-level modules, as when run from bench/."""
    monkeypatch.syspath_prepend(str(BENCH))
    names = ("hotpath_client", "hotpath_jobs", "http_profile")
    return {name: importlib.import_module(name) for name in names}


def test_percentile_is_nearest_rank(bench: dict[str, ModuleType]) -> None:
    percentile = bench["hotpath_client"].percentile
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_role_chunk_is_not_content_but_a_delta_is(bench: dict[str, ModuleType]) -> None:
    has_content = bench["hotpath_client"]._has_content
    role = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
    delta = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}'
    assert not has_content(role)
    assert has_content(delta)
    assert not has_content(b"data: [DONE]")
    assert not has_content(b": keepalive")


def test_response_head_parsing(bench: dict[str, ModuleType]) -> None:
    head = b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    status, headers = bench["hotpath_client"]._parse_head(head)
    assert status == 429
    assert headers[b"content-length"] == b"12"
    assert headers[b"connection"] == b"close"


def test_window_opens_after_every_client_answered_and_the_warmup(
    bench: dict[str, ModuleType],
) -> None:
    window = bench["hotpath_jobs"]._Window(
        clients=2, warmup_s=1.0, duration_s=5.0, hard_stop=100.0, started=10.0
    )
    assert window.closes == 100.0
    window.first_answer(10.5)
    assert not window.holds(10.6)
    window.first_answer(10.7)
    assert window.opens == 11.0  # the warm-up outlasts the first answers
    assert window.closes == 16.0
    assert not window.holds(10.9)
    assert window.holds(11.0)
    assert window.holds(16.0)
    assert not window.holds(16.1)


def test_window_waits_for_the_slowest_first_answer(bench: dict[str, ModuleType]) -> None:
    window = bench["hotpath_jobs"]._Window(
        clients=3, warmup_s=0.5, duration_s=2.0, hard_stop=100.0, started=0.0
    )
    for moment in (0.1, 0.2, 3.0):
        window.first_answer(moment)
    assert (window.opens, window.closes) == (3.0, 5.0)


def test_tally_counts_each_frame_once_per_sample_without_the_spine(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    spine = (
        "<module> (amplifier-agent);main (amplifier_agent/cli/entry.py);"
        "Runner.run (asyncio/runners.py);Handle._run (asyncio/events.py)"
    )
    raw = tmp_path / "stacks.txt"
    turn = "turn (amplifier_agent/engine/turn.py)"
    raw.write_text(
        f"{spine};{turn};walk (x/tree.py);walk (x/tree.py) 3\n"
        f"{spine};{turn};append_bytes (amplifier_agent/core/fsio.py) 5\n"
        "not a stack line\n"
    )
    total, inclusive, own = bench["http_profile"].tally(raw)
    assert total == 8
    assert inclusive[turn] == 8
    assert inclusive["walk (x/tree.py)"] == 3  # recursion is not counted twice
    assert not any("asyncio/events.py" in frame or "cli/" in frame for frame in inclusive)
    assert own["append_bytes (amplifier_agent/core/fsio.py)"] == 5
    packages = bench["http_profile"].by_package(own)
    assert packages == {"amplifier_agent.core": 5, "x": 3}
