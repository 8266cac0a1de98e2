"""The served-models registry: namespacing, the four-step lookup, ordering and the summary."""

from __future__ import annotations

import pytest

from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.core.registry import (
    AmbiguousModel,
    Registry,
    Resolution,
    UnknownModel,
    build_registry,
)


def models(*ids: str) -> list[ModelInfo]:
    return [ModelInfo(id=i, display_name=i.upper(), created=n) for n, i in enumerate(ids)]


def listed_ids(registry: Registry) -> list[str]:
    return [entry.id for entry in registry.entries()]


@pytest.fixture
def registry() -> Registry:
    return build_registry(
        {
            "anthropic": models("claude-sonnet-4-5", "shared-model"),
            "openai": models("gpt-5", "shared-model"),
            "gateway": models("meta-llama/Llama-3", "gpt-5-mini"),
        }
    )


def test_bare_ids_for_single_providers_and_namespaced_ids_for_shared_ones(
    registry: Registry,
) -> None:
    assert listed_ids(registry) == [
        "claude-sonnet-4-5",
        "anthropic/shared-model",
        "gpt-5",
        "openai/shared-model",
        "meta-llama/Llama-3",
        "gpt-5-mini",
    ]
    assert "shared-model" not in listed_ids(registry)


def test_every_entry_is_tagged_with_its_provider_and_upstream_model(registry: Registry) -> None:
    tags = {entry.id: (entry.provider_id, entry.upstream_model) for entry in registry.entries()}
    assert tags["anthropic/shared-model"] == ("anthropic", "shared-model")
    assert tags["openai/shared-model"] == ("openai", "shared-model")
    assert tags["gpt-5-mini"] == ("gateway", "gpt-5-mini")
    entry = registry.entries()[0]
    assert entry.model.display_name == "CLAUDE-SONNET-4-5"


def test_step1_exact_listed_id(registry: Registry) -> None:
    assert registry.resolve("gpt-5") == Resolution("openai", "gpt-5")
    assert registry.resolve("openai/shared-model") == Resolution("openai", "shared-model")


def test_step1_matches_ids_containing_a_slash_before_trying_a_prefix(registry: Registry) -> None:
    # "meta-llama" is not a provider id; the whole id is gateway's model.
    assert registry.resolve("meta-llama/Llama-3") == Resolution("gateway", "meta-llama/Llama-3")


def test_step2_provider_prefix_is_always_accepted_and_stripped(registry: Registry) -> None:
    assert registry.resolve("anthropic/claude-sonnet-4-5") == Resolution(
        "anthropic", "claude-sonnet-4-5"
    )
    assert registry.resolve("gateway/meta-llama/Llama-3") == Resolution(
        "gateway", "meta-llama/Llama-3"
    )


def test_step2_prefix_with_a_model_the_provider_does_not_serve_is_unknown(
    registry: Registry,
) -> None:
    with pytest.raises(UnknownModel):
        registry.resolve("anthropic/gpt-5")


def test_step3_bare_id_served_by_several_is_ambiguous(registry: Registry) -> None:
    with pytest.raises(AmbiguousModel) as caught:
        registry.resolve("shared-model")
    error = caught.value
    assert isinstance(error, AmplifierError)
    assert error.code == "ambiguous_model"
    assert error.candidates == ("anthropic/shared-model", "openai/shared-model")
    assert "anthropic/shared-model" in error.message
    assert "openai/shared-model" in error.message


def test_step4_anything_else_is_unknown(registry: Registry) -> None:
    with pytest.raises(UnknownModel) as caught:
        registry.resolve("no-such-model")
    assert caught.value.code == "unknown_model"
    assert "no-such-model" in caught.value.message
    assert "/v1/models" in caught.value.message


def test_lookup_is_case_sensitive(registry: Registry) -> None:
    with pytest.raises(UnknownModel):
        registry.resolve("GPT-5")


def test_providers_summary_counts_models_in_config_order(registry: Registry) -> None:
    summary = registry.providers_summary()
    assert summary == {"anthropic": 2, "openai": 2, "gateway": 2}
    assert list(summary) == ["anthropic", "openai", "gateway"]
    assert len(registry) == 6


def test_order_follows_the_listings_mapping_not_alphabet() -> None:
    registry = build_registry({"zeta": models("b", "a"), "alpha": models("c")})
    assert listed_ids(registry) == ["b", "a", "c"]
    assert list(registry.providers_summary()) == ["zeta", "alpha"]


def test_repeated_ids_in_one_listing_count_once_and_stay_bare() -> None:
    registry = build_registry({"ollama": models("llama3", "llama3", "qwen3")})
    assert listed_ids(registry) == ["llama3", "qwen3"]
    assert registry.providers_summary() == {"ollama": 2}
    assert registry.resolve("llama3") == Resolution("ollama", "llama3")


def test_bare_id_colliding_with_a_namespaced_id_is_namespaced_too() -> None:
    registry = build_registry(
        {"p": models("x"), "q": models("x"), "gw": models("p/x")},
    )
    assert listed_ids(registry) == ["p/x", "q/x", "gw/p/x"]
    assert registry.resolve("p/x") == Resolution("p", "x")
    assert registry.resolve("gw/p/x") == Resolution("gw", "p/x")


def test_model_info_and_provider_models(registry: Registry) -> None:
    resolution = registry.resolve("gpt-5-mini")
    info = registry.model_info(resolution)
    assert info is not None and info.id == "gpt-5-mini"
    assert [m.id for m in registry.provider_models("openai")] == ["gpt-5", "shared-model"]
    assert registry.provider_models("nobody") == ()


def test_provider_with_no_models_is_summarised_with_zero() -> None:
    registry = build_registry({"a": models("m"), "b": []})
    assert registry.providers_summary() == {"a": 1, "b": 0}
    assert registry.resolve("m") == Resolution("a", "m")
