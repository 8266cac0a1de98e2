"""Approval of tool calls that change things (SPEC §6.3): modes, patterns and the asking hook.

The library never reads stdin: in `prompt` mode it calls an injected `Asker`, which the CLI wires to
the terminal.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

ApprovalMode = Literal["yes", "no", "prompt"]
#: Shows the question (`Approve [<kind>] <summary> [y/N]: `) and returns the answer text.
Asker = Callable[[str], Awaitable[str]]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApprovalPattern:
    """`<tool>` or `<tool>(<glob>)`: a call to `tool` whose subject matches `glob` is approved."""

    tool: str
    subject_glob: str | None

    @classmethod
    def parse(cls, text: str) -> ApprovalPattern:
        text = text.strip()
        if text.endswith(")") and "(" in text:
            tool, _, rest = text.partition("(")
            return cls(tool.strip(), rest[:-1])
        return cls(text, None)

    def matches(self, tool: str, subject: str) -> bool:
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return self.subject_glob is None or fnmatch.fnmatchcase(subject, self.subject_glob)


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    mode: ApprovalMode
    patterns: tuple[ApprovalPattern, ...] = ()
    asker: Asker | None = None
    log_approvals: bool = False

    @classmethod
    def build(
        cls,
        mode: ApprovalMode,
        patterns: Sequence[str] = (),
        *,
        asker: Asker | None = None,
        log_approvals: bool = False,
    ) -> ApprovalPolicy:
        return cls(mode, tuple(ApprovalPattern.parse(p) for p in patterns), asker, log_approvals)

    async def approve(self, kind: str, tool: str, subject: str) -> bool:
        """Whether a call of `tool` (approval kind `kind`) on `subject` may run."""
        if any(p.matches(tool, subject) for p in self.patterns):
            return True
        if self.mode == "yes":
            if self.log_approvals:
                log.info("auto-approved [%s] %s: %s", kind, tool, subject)
            return True
        if self.mode == "no" or self.asker is None:
            return False
        answer = await self.asker(f"Approve [{kind}] {_summary(tool, subject)} [y/N]: ")
        return answer.strip().lower() in ("y", "yes")


def _summary(tool: str, subject: str) -> str:
    one_line = " ".join(subject.split())
    if len(one_line) > 200:
        one_line = one_line[:197] + "..."
    return f"{tool}: {one_line}"
