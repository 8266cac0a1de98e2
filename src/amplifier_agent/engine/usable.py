"""Which providers routing may pick from this turn (SPEC §6.5 "Usable providers")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amplifier_agent.agent.routing import UsableProvider
from amplifier_agent.core.errors import AmplifierError
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.engine.model_cache import read_model_cache, write_model_cache
from amplifier_agent.engine.providers import list_provider_models

ROUTING_LIST_TIMEOUT_S = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderRef:
    """A configured provider: its id, catalog module and `config`."""

    provider_id: str
    module: str
    config: Mapping[str, Any] = field(default_factory=dict)


async def model_list(ref: ProviderRef) -> list[ModelInfo] | None:
    """The provider's models from the cache, else listed live (5 s) and cached; None on failure."""
    cached = read_model_cache(ref.provider_id)
    if cached is not None:
        return cached
    try:
        models = await list_provider_models(
            ref.provider_id, ref.module, ROUTING_LIST_TIMEOUT_S, ref.config
        )
    except AmplifierError as error:
        log.info("provider %s cannot list models for routing: %s", ref.provider_id, error)
        return None
    write_model_cache(ref.provider_id, models)
    return models


async def usable_providers(
    active: ProviderRef, others: Sequence[ProviderRef]
) -> list[UsableProvider]:
    """The active provider (always usable; its list may be None) plus every other entry that
    lists its models; an entry that cannot list is skipped."""
    refs = [active, *(r for r in others if r.provider_id != active.provider_id)]
    lists = await asyncio.gather(*(model_list(ref) for ref in refs))
    usable = [UsableProvider(active.provider_id, active.module, lists[0])]
    for ref, models in zip(refs[1:], lists[1:], strict=True):
        if models is not None:
            usable.append(UsableProvider(ref.provider_id, ref.module, models))
    return usable
