"""The system prompt of a root turn: the packaged instructions, the environment, the skill list."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

from amplifier_agent.core.errors import AmplifierError


@cache
def packaged_system_prompt() -> str:
    try:
        return resources.files(__package__).joinpath("system_prompt.md").read_text("utf-8")
    except OSError as exc:
        raise AmplifierError(
            f"packaged system prompt is unreadable: {exc}", code="bundle_load_failed"
        ) from exc


def environment_section(cwd: Path, now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return (
        "Environment:\n"
        f"- Working directory: {cwd}\n"
        f"- Date: {moment.date().isoformat()}\n"
        f"- Platform: {platform.system()} {platform.release()}"
    )


def build_system_prompt(cwd: Path, skills_section: str = "", base: str | None = None) -> str:
    """`base` (default: the packaged prompt) + environment + the skill catalog, if any."""
    parts = [
        (base if base is not None else packaged_system_prompt()).strip(),
        environment_section(cwd),
    ]
    if skills_section.strip():
        parts.append(
            "Skills (load one with load_skill when it fits the task):\n" + skills_section.strip()
        )
    return "\n\n".join(parts)
