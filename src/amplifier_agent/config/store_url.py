"""Which store a process uses: `--store URL` > `$AMPLIFIER_AGENT_STORE_URL` > host_config
`store.url` > the files under the state root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.core.urls import mask_url

STORE_URL_ENV = "AMPLIFIER_AGENT_STORE_URL"


@dataclass(frozen=True, slots=True)
class StoreChoice:
    """The store URL (None: files) and where it came from: `--store`, `env:<VAR>`,
    `host_config` or `default`."""

    url: str | None
    source: str

    @property
    def backend(self) -> str:
        return "files" if self.url is None else "postgresql"

    def to_json(self) -> dict[str, str | None]:
        """Safe to print: the password is masked."""
        shown = None if self.url is None else mask_url(self.url)
        return {"backend": self.backend, "url": shown, "source": self.source}


def choose_store(
    flag: str | None, config: HostConfig, env: Mapping[str, str] | None = None
) -> StoreChoice:
    if flag:
        return StoreChoice(flag, "--store")
    value = (os.environ if env is None else env).get(STORE_URL_ENV, "").strip()
    if value:
        return StoreChoice(value, f"env:{STORE_URL_ENV}")
    if config.store.url:
        return StoreChoice(config.store.url, "host_config")
    return StoreChoice(None, "default")
