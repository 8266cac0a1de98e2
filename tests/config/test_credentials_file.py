"""credentials.json: the version-1 shape, legacy files, round-tripping and edits (SPEC §4.2)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amplifier_agent.config.credentials_file import (
    load_credentials,
    save_credentials,
    with_credential,
    without_credential,
)
from amplifier_agent.core.errors import ConfigError


def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.chmod(path, 0o600)
    return path


def test_absent_file_loads_as_none(tmp_path: Path) -> None:
    assert load_credentials(tmp_path / "credentials.json") is None


def test_version_one_loads_as_is(tmp_path: Path) -> None:
    doc = {"version": 1, "providers": {"anthropic": {"api_key": "k"}}}
    path = put(tmp_path / "credentials.json", json.dumps(doc))
    assert load_credentials(path) == doc


def test_legacy_flat_file_reads_as_version_one(tmp_path: Path) -> None:
    path = put(tmp_path / "credentials.json", '{"openai": "sk-o", "ollama": "http://gpu:11434"}')
    assert load_credentials(path) == {
        "version": 1,
        "providers": {"openai": {"api_key": "sk-o"}, "ollama": {"host": "http://gpu:11434"}},
    }


def test_legacy_file_is_upgraded_on_the_next_write(tmp_path: Path) -> None:
    path = put(tmp_path / "credentials.json", '{"openai": "sk-o"}')
    save_credentials(path, with_credential(load_credentials(path), "anthropic", value="sk-a"))
    assert json.loads(path.read_text()) == {
        "version": 1,
        "providers": {"openai": {"api_key": "sk-o"}, "anthropic": {"api_key": "sk-a"}},
    }


def test_unknown_providers_and_fields_round_trip(tmp_path: Path) -> None:
    original = {
        "version": 1,
        "comment": "kept",
        "providers": {
            "mystery": {"token": "t", "region": "eu"},
            "anthropic": {"api_key": "old", "org": "o1"},
        },
    }
    path = put(tmp_path / "credentials.json", json.dumps(original))
    save_credentials(path, with_credential(load_credentials(path), "anthropic", value="new"))
    saved = json.loads(path.read_text())
    assert saved["comment"] == "kept"
    assert saved["providers"]["mystery"] == {"token": "t", "region": "eu"}
    assert saved["providers"]["anthropic"] == {"api_key": "new", "org": "o1"}


def test_written_form_is_indent2_sorted_with_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    save_credentials(path, with_credential(None, "openai", value="sk"))
    assert path.read_text() == (
        '{\n  "providers": {\n    "openai": {\n      "api_key": "sk"\n    }\n  },\n'
        '  "version": 1\n}\n'
    )


def test_ollama_stores_host_and_endpoint_is_separate() -> None:
    doc = with_credential(None, "ollama", value="http://gpu:11434")
    doc = with_credential(doc, "azure-openai", value="k", endpoint="https://x.openai.azure.com")
    assert doc["providers"] == {
        "ollama": {"host": "http://gpu:11434"},
        "azure-openai": {"api_key": "k", "endpoint": "https://x.openai.azure.com"},
    }


def test_edits_do_not_mutate_their_input() -> None:
    doc = with_credential(None, "openai", value="a")
    updated = with_credential(doc, "openai", value="b")
    removed, did_remove = without_credential(updated, "openai")
    assert doc["providers"]["openai"]["api_key"] == "a"
    assert updated["providers"]["openai"]["api_key"] == "b"
    assert did_remove and removed["providers"] == {}
    assert without_credential(removed, "openai")[1] is False


def test_a_bom_is_tolerated(tmp_path: Path) -> None:
    path = put(tmp_path / "credentials.json", b'\xef\xbb\xbf{"openai": "sk"}')
    loaded = load_credentials(path)
    assert loaded is not None
    assert loaded["providers"]["openai"] == {"api_key": "sk"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"{oops", "not valid JSON"),
        (b"null", "must hold a JSON object"),
        (b"[]", "must hold a JSON object"),
        (b'{"version": 2, "providers": {}}', "unsupported version"),
        (b'{"version": true, "providers": {}}', "unsupported version"),
        (b'{"version": 1, "providers": []}', "not an object"),
        (b'{"version": 1, "providers": {"openai": "sk"}}', "'openai'"),
        (b'{"openai": 5}', "'openai'"),
    ],
)
def test_corrupt_files_are_named_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = put(tmp_path / "credentials.json", content)
    with pytest.raises(ConfigError) as caught:
        load_credentials(path)
    assert caught.value.code == "credentials_corrupt"
    assert str(path) in caught.value.message
    assert problem in caught.value.message
