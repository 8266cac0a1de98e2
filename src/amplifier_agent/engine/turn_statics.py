"""What a root turn derives from configuration and the disk rather than from its request: the
skill catalog, the system prompt, the `load_skill` tool and what is known of a model.

`TurnStatics` computes them afresh, for faces that run one turn per process. `ServerStatics`
keeps them across the requests of a long-lived server: the skill catalog until a stat of what it
was discovered from shows a change, the rest for as long as their inputs stay the same.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from amplifier_agent.agent.delegate import load_skill_tool
from amplifier_agent.agent.prompt import build_system_prompt
from amplifier_agent.agent.routing import UsableProvider
from amplifier_agent.agent.skills import SkillCatalog, skill_roots
from amplifier_agent.config.host_config import HostConfig
from amplifier_agent.config.paths import home
from amplifier_agent.core.models import ModelInfo
from amplifier_agent.engine.toolbox import skill_catalog
from amplifier_agent.providers.metadata import enrich
from amplifier_agent.tools.base import Tool


def model_info(active: UsableProvider, model: str) -> ModelInfo:
    """What is known of `model`: its listing when it has limits, else the packaged metadata."""
    listed = next((m for m in active.models or () if m.id == model), None)
    return listed if listed and listed.context_window else enrich(ModelInfo(model, model, 0))


class TurnStatics:
    def __init__(self, config: HostConfig, cwd: Path) -> None:
        self.config = config
        self.cwd = cwd

    def skills(self) -> SkillCatalog:
        return skill_catalog(self.config, self.cwd)

    def system_prompt(self, catalog: SkillCatalog) -> str:
        return build_system_prompt(self.cwd, catalog.prompt_section())

    def skill_tool(self, catalog: SkillCatalog) -> Tool | None:
        """`load_skill` over `catalog`; None when there is no skill to load."""
        return load_skill_tool(catalog) if catalog.skills else None

    def model_info(self, active: UsableProvider, model: str) -> ModelInfo:
        return model_info(active, model)


class ServerStatics(TurnStatics):
    """The same answers as `TurnStatics`, kept for as long as their inputs stay the same."""

    def __init__(self, config: HostConfig, cwd: Path) -> None:
        # Imported here: one-turn processes (`run`) never build a server's caches.
        from amplifier_agent.agent.skill_cache import SkillCatalogCache

        super().__init__(config, cwd)
        roots = skill_roots(cwd, home(), Path.home(), config.skills.dirs)
        self._skills = SkillCatalogCache(roots, config.skills.exclude)
        self._prompt: tuple[SkillCatalog, date, str] | None = None
        self._skill_tool: tuple[SkillCatalog, Tool | None] | None = None
        self._models: dict[tuple[str, str], ModelInfo] = {}

    def warm(self) -> None:
        """Derive everything once now, so the first request finds it ready (and start-up's
        `gc.freeze()` moves it out of the collector's way)."""
        catalog = self.skills()
        self.system_prompt(catalog)
        self.skill_tool(catalog)

    def skills(self) -> SkillCatalog:
        return self._skills.catalog()

    def system_prompt(self, catalog: SkillCatalog) -> str:
        # The prompt names today's date, so a new day builds it again.
        today = datetime.now(UTC).date()
        cached = self._prompt
        if cached is None or cached[0] is not catalog or cached[1] != today:
            cached = (catalog, today, super().system_prompt(catalog))
            self._prompt = cached
        return cached[2]

    def skill_tool(self, catalog: SkillCatalog) -> Tool | None:
        cached = self._skill_tool
        if cached is None or cached[0] is not catalog:
            cached = (catalog, super().skill_tool(catalog))
            self._skill_tool = cached
        return cached[1]

    def model_info(self, active: UsableProvider, model: str) -> ModelInfo:
        # A server's listings are fixed at start-up, so the answer per provider and model is too.
        key = (active.provider_id, model)
        info = self._models.get(key)
        if info is None:
            info = self._models[key] = super().model_info(active, model)
        return info
