"""Secret masking reveals at most 4 characters (SPEC §4.3, §7.5)."""

from __future__ import annotations

import pytest

from amplifier_agent.config.masking import mask_secret, mask_secret_values


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("sk-ant-0123456789x9Qa", "...x9Qa"),
        ("abcdefghijkl", "...ijkl"),
        ("abcdefghijk", "***"),
        ("k", "***"),
        ("", "<not set>"),
        (None, "<not set>"),
    ],
)
def test_mask_secret(value: str | None, shown: str) -> None:
    assert mask_secret(value) == shown


def test_values_under_secret_keys_are_masked_at_any_depth() -> None:
    document = {
        "provider": {
            "module": "openai",
            "config": {
                "api_key": "sk-supersecret-1234",
                "max_tokens": 100,
                "headers": {"X-Auth-Token": "short"},
                "base_url": "http://keep",
            },
        },
        "Password": ["hunter2-longer-than-12", "x"],
        "secrets": {"nested": {"deeper": "abcdefghijklmnop"}},
    }
    masked = mask_secret_values(document)
    config = masked["provider"]["config"]
    assert config["api_key"] == "...1234"
    assert config["max_tokens"] == 100
    assert config["headers"]["X-Auth-Token"] == "***"
    assert config["base_url"] == "http://keep"
    assert masked["provider"]["module"] == "openai"
    assert masked["Password"] == ["...n-12", "***"]
    assert masked["secrets"]["nested"]["deeper"] == "...mnop"
    assert document["provider"]["config"]["api_key"] == "sk-supersecret-1234"
