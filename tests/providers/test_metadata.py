"""The packaged model metadata table and `enrich`."""

from __future__ import annotations

import pytest

from amplifier_agent.core.models import ModelInfo
from amplifier_agent.providers.metadata import CAPABILITIES, enrich, lookup, metadata_table

ALL = ("tools", "streaming", "thinking", "vision")


def bare(model_id: str, **fields: object) -> ModelInfo:
    return ModelInfo(id=model_id, display_name=model_id, created=0, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model_id", "context", "output", "capabilities"),
    [
        ("claude-sonnet-4-5-20250929", 200_000, 64_000, ALL),
        ("claude-opus-4-5", 200_000, 64_000, ALL),
        ("claude-opus-4-1-20250805", 200_000, 32_000, ALL),
        ("claude-haiku-4-5-20251001", 200_000, 64_000, ALL),
        ("claude-3-5-haiku-20241022", 200_000, 8192, ("tools", "streaming", "vision")),
        ("gpt-5", 400_000, 128_000, ALL),
        ("gpt-5-mini", 400_000, 128_000, ALL),
        ("gpt-5-chat-latest", 128_000, 16_384, ("streaming", "vision")),
        ("gpt-4.1-mini", 1_047_576, 32_768, ("tools", "streaming", "vision")),
        ("gpt-4o", 128_000, 16_384, ("tools", "streaming", "vision")),
        ("o3-mini", 200_000, 100_000, ("tools", "streaming", "thinking")),
        ("o3", 200_000, 100_000, ALL),
        ("o4-mini", 200_000, 100_000, ALL),
        ("llama3.1:8b", 131_072, None, ("tools", "streaming")),
        ("llama3:latest", 8192, None, ("streaming",)),
        ("qwen3:4b", 40_960, None, ("tools", "streaming", "thinking")),
        ("qwen:7b", 32_768, None, ("streaming",)),
        ("smollm2-135m-instruct", 8192, None, ("streaming",)),
    ],
)
def test_enrich_fills_limits_and_capabilities_from_the_first_matching_glob(
    model_id: str, context: int, output: int | None, capabilities: tuple[str, ...]
) -> None:
    enriched = enrich(bare(model_id))
    assert enriched.id == model_id
    assert enriched.context_window == context
    assert enriched.max_output_tokens == output
    assert enriched.capabilities == capabilities


def test_unknown_model_stays_unknown() -> None:
    info = bare("totally-new-model")
    enriched = enrich(info)
    assert enriched == info
    assert enriched.context_window is None
    assert enriched.max_output_tokens is None
    assert enriched.capabilities == ()
    assert enriched.to_json()["capabilities"] == []


def test_matching_ignores_case() -> None:
    assert enrich(bare("Claude-Sonnet-4-5")).context_window == 200_000


def test_namespaced_id_falls_back_to_its_last_segment() -> None:
    assert enrich(bare("openai/gpt-4o")).max_output_tokens == 16_384
    assert lookup("vendor/unknown") is None


def test_values_the_provider_reported_win() -> None:
    info = bare("smollm2-135m-instruct", context_window=2048, capabilities=("streaming", "tools"))
    enriched = enrich(info)
    assert enriched.context_window == 2048
    assert enriched.capabilities == ("streaming", "tools")
    assert enriched.max_output_tokens is None


def test_enrich_keeps_identity_fields() -> None:
    info = ModelInfo(
        id="gpt-5", display_name="GPT-5", created=1754524800, defaults={"temperature": 1}
    )
    enriched = enrich(info)
    assert (enriched.display_name, enriched.created, enriched.defaults) == (
        "GPT-5",
        1754524800,
        {"temperature": 1},
    )


def test_table_is_valid_and_specific_globs_precede_general_ones() -> None:
    table = metadata_table()
    assert table is metadata_table()  # loaded once
    globs = [row.glob for row in table]
    assert len(globs) == len(set(globs))
    for row in table:
        assert set(row.capabilities) <= set(CAPABILITIES)
        assert list(row.capabilities) == sorted(row.capabilities, key=CAPABILITIES.index)
    # A row whose own glob is matched by an earlier row could never be chosen.
    for index, row in enumerate(table):
        shadowing = [earlier.glob for earlier in table[:index] if lookup(row.glob) is earlier]
        assert not shadowing, f"{row.glob} is shadowed by {shadowing}"
