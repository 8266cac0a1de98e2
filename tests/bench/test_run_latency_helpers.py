"""The pure parts of the `run` latency benchmark: reading `python -X importtime` output."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

#: `a` is a thin wrapper over `a.core`; `b` has two children of comparable cost.
TRACE = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |     a.core.leaf
import time:      5000 |       5100 |   a.core
import time:        40 |       5140 | a
import time:      1000 |       1000 |   b.one
import time:       800 |        800 |   b.two
import time:       200 |       2000 | b
"""


@pytest.fixture
def run_latency(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("run_latency")


def test_rows_carry_their_nesting_depth(run_latency: ModuleType) -> None:
    rows = list(run_latency.parse_importtime(TRACE))

    assert [(row.name, row.depth) for row in rows] == [
        ("a.core.leaf", 2),
        ("a.core", 1),
        ("a", 0),
        ("b.one", 1),
        ("b.two", 1),
        ("b", 0),
    ]
    assert (rows[1].self_us, rows[1].cumulative_us) == (5000, 5100)


def test_a_wrapper_over_one_costly_child_is_listed_as_that_child(
    run_latency: ModuleType,
) -> None:
    rows = list(run_latency.parse_importtime(TRACE))

    kept = run_latency.without_pass_through(rows)

    assert run_latency.ranked(kept) == [
        ["a.core", 5.1],
        ["b", 2.0],
        ["b.one", 1.0],
        ["b.two", 0.8],
        ["a.core.leaf", 0.1],
    ]


def test_self_time_is_summed_per_top_level_package(run_latency: ModuleType) -> None:
    rows = list(run_latency.parse_importtime(TRACE))

    assert run_latency.self_by_package(rows) == {"a": 5.1, "b": 2.0}
