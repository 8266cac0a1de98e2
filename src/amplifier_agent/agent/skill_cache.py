"""The skill catalog of a long-lived process (the server), discovered again only when something
it was discovered from changed on disk.

Each lookup stats the paths the last discovery depended on (`SkillScan.watched`: the roots, a
host root's own `SKILL.md`, each child's `SKILL.md`); listing directories and reading skill
files happens only when one of those stats differs. A stat that fails counts as "absent", so a
root or skill that appears is seen as a change too.

Timestamps have a granularity (a clock tick on Linux, up to two seconds elsewhere), so a file
rewritten within the same tick as it was read can keep its signature; and a file replaced while a
discovery runs may have been read before and stat'ed after the change. As git does with its
index, a discovery that saw a path changed (mtime or ctime) shortly before it started is not
trusted: the next lookup discovers again, until the tree has been quiet for the settle window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amplifier_agent.agent.skills import SkillCatalog, SkillRoot, SkillScan, scan_skills

#: How long a skill file must have been unmodified before a discovery that read it is trusted.
DEFAULT_SETTLE_NS = 2_000_000_000

#: What identifies one version of a path; None when the path does not exist.
Signature = tuple[int, int, int, int] | None


def signature(path: Path) -> Signature:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    scan: SkillScan
    signatures: tuple[Signature, ...]
    trusted: bool


class SkillCatalogCache:
    """`catalog()` is what `discover_skills` would return now, at the cost of a few stats."""

    def __init__(
        self,
        roots: Sequence[SkillRoot],
        exclude: Sequence[str] = (),
        *,
        settle_ns: int | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._roots = tuple(roots)
        self._exclude = tuple(exclude)
        self._settle_ns = DEFAULT_SETTLE_NS if settle_ns is None else settle_ns
        self._clock_ns = clock_ns
        self._snapshot: _Snapshot | None = None

    def catalog(self) -> SkillCatalog:
        snapshot = self._snapshot
        if snapshot is None or not snapshot.trusted or self._changed(snapshot):
            snapshot = self._discover()
            self._snapshot = snapshot
        return snapshot.scan.catalog

    def _changed(self, snapshot: _Snapshot) -> bool:
        watched = snapshot.scan.watched
        return any(signature(p) != old for p, old in zip(watched, snapshot.signatures, strict=True))

    def _discover(self) -> _Snapshot:
        started = self._clock_ns()
        scan = scan_skills(self._roots, self._exclude)
        signatures = tuple(signature(path) for path in scan.watched)
        newest = max((max(s[0], s[1]) for s in signatures if s is not None), default=0)
        return _Snapshot(scan, signatures, trusted=newest < started - self._settle_ns)
