"""Skills: discovery across the packaged, project, user and host locations (first wins), the
catalog the system prompt lists and `load_skill` reads, and the small frontmatter parser that
skills and packaged agent definitions share."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from amplifier_agent.core.errors import AmplifierError

_LOG = logging.getLogger(__name__)

SKILL_FILE = "SKILL.md"
SKILL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

#: `package`: shipped in the wheel; `project`: `<cwd>/.amplifier/skills`; `user`: both per-user
#: locations (`<home>/skills` and `~/.amplifier/skills`), since both belong to the user rather than
#: to a project or host; `host`: the `skills.skills` directories of host_config.
SkillSource = Literal["package", "project", "user", "host"]

Frontmatter = dict[str, str | tuple[str, ...]]

_BLOCK_INDICATORS = frozenset({">", "|", ">-", "|-", ">+", "|+"})


class FrontmatterError(ValueError):
    """A markdown file's `---` frontmatter is missing or not `key: value` lines."""


def split_frontmatter(text: str) -> tuple[Frontmatter, str]:
    """(fields, body) of a markdown file that starts with a `---` frontmatter block.

    Understands `key: value`, `key: [a, b]`, quoted values, `- item` lists and indented
    continuation lines (folded with spaces: values here are one-line descriptions). A BOM is
    tolerated.
    """
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise FrontmatterError("missing frontmatter: the file must start with a `---` line")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise FrontmatterError("unterminated frontmatter: no closing `---` line")
    fields = _parse_fields(line.rstrip("\r\n") for line in lines[1:end])
    body = "".join(lines[end + 1 :]).lstrip("\r\n").rstrip()
    return fields, body


def _parse_fields(lines: Iterable[str]) -> Frontmatter:
    fields: Frontmatter = {}
    key: str | None = None
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] in " \t" or stripped.startswith("- "):
            if key is None:
                raise FrontmatterError(f"continuation line before any key: {line!r}")
            fields[key] = _continue(fields[key], stripped)
            continue
        name, sep, value = line.partition(":")
        key = name.strip()
        if not sep or not key:
            raise FrontmatterError(f"not a `key: value` line: {line!r}")
        fields[key] = _value(value.strip())
    return fields


def _continue(previous: str | tuple[str, ...], stripped: str) -> str | tuple[str, ...]:
    if stripped.startswith("- ") and (previous == "" or isinstance(previous, tuple)):
        return (*previous, _unquote(stripped[2:].strip()))
    if isinstance(previous, tuple):
        raise FrontmatterError(f"unexpected line inside a list: {stripped!r}")
    if previous in _BLOCK_INDICATORS or not previous:
        return stripped
    return f"{previous} {stripped}"


def _value(text: str) -> str | tuple[str, ...]:
    if text.startswith("[") and text.endswith("]"):
        return tuple(_unquote(item.strip()) for item in text[1:-1].split(",") if item.strip())
    return _unquote(text)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


@dataclass(frozen=True, slots=True)
class ShadowedSkill:
    source: SkillSource
    path: Path


@dataclass(frozen=True, slots=True)
class Skill:
    """A visible skill; `path` is its directory; `shadowed` lists later same-named entries."""

    name: str
    description: str
    source: SkillSource
    path: Path
    shadowed: tuple[ShadowedSkill, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "path": str(self.path),
            "shadowed": [{"source": s.source, "path": str(s.path)} for s in self.shadowed],
        }


@dataclass(frozen=True, slots=True)
class SkillCatalog:
    """The skills visible this turn, in discovery order."""

    skills: tuple[Skill, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(skill.name for skill in self.skills)

    def get(self, name: str) -> Skill:
        for skill in self.skills:
            if skill.name == name:
                return skill
        valid = ", ".join(sorted(self.names())) or "none"
        raise AmplifierError(
            f"unknown skill {name!r} (valid: {valid})", code="tool_execution_failed"
        )

    def prompt_section(self) -> str:
        """One `name: description` line per skill, for the system prompt ("" when none)."""
        return "\n".join(f"{skill.name}: {skill.description}" for skill in self.skills)

    def load(self, name: str) -> str:
        """What `load_skill {name}` returns: the base directory, a blank line, then the body."""
        skill = self.get(name)
        try:
            _, body = split_frontmatter((skill.path / SKILL_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, FrontmatterError) as exc:
            raise AmplifierError(
                f"skill {name!r} could not be read: {exc}", code="tool_execution_failed"
            ) from exc
        return f"Base directory: {skill.path}\n\n{body}"


def packaged_skills_dir() -> Path | None:
    """The skills shipped in the wheel (None if the package is not on a real filesystem)."""
    root = files("amplifier_agent.agent") / "packaged_skills"
    return root if isinstance(root, Path) else None


def discover_skills(
    cwd: Path,
    home: Path,
    user_home: Path,
    extra_dirs: Sequence[str | Path] = (),
    exclude: Iterable[str] = (),
    *,
    packaged_dir: Path | None = None,
) -> SkillCatalog:
    """Every visible skill, first location wins: packaged, `<cwd>/.amplifier/skills`,
    `<home>/skills`, `<user_home>/.amplifier/skills`, then each `skills.skills` directory
    (relative ones against `cwd`, a leading `~` against `user_home`).

    `packaged_dir` replaces the shipped skills directory; names in `exclude` are hidden entirely.
    """
    roots = skill_roots(cwd, home, user_home, extra_dirs, packaged_dir=packaged_dir)
    return scan_skills(roots, exclude).catalog


SkillRoot = tuple[SkillSource, Path | None]


@dataclass(frozen=True, slots=True)
class SkillScan:
    """One discovery and the paths it depended on: a root's entries, a host root's own
    `SKILL.md` and every child's `SKILL.md` (present or not). While none of them changes on disk,
    discovering again would find the same catalog."""

    catalog: SkillCatalog
    watched: tuple[Path, ...]


def skill_roots(
    cwd: Path,
    home: Path,
    user_home: Path,
    extra_dirs: Sequence[str | Path] = (),
    *,
    packaged_dir: Path | None = None,
) -> list[SkillRoot]:
    """The locations `discover_skills` searches, in precedence order (None: not on disk)."""
    roots: list[SkillRoot] = [
        ("package", packaged_dir or packaged_skills_dir()),
        ("project", cwd / ".amplifier" / "skills"),
        ("user", home / "skills"),
        ("user", user_home / ".amplifier" / "skills"),
    ]
    roots += [("host", _host_dir(d, cwd, user_home)) for d in extra_dirs]
    return roots


def scan_skills(roots: Sequence[SkillRoot], exclude: Iterable[str] = ()) -> SkillScan:
    watched: list[Path] = []
    catalog = _collect(_candidates(roots, watched), frozenset(exclude))
    return SkillScan(catalog, tuple(watched))


def _host_dir(entry: str | Path, cwd: Path, user_home: Path) -> Path:
    text = str(entry)
    if text == "~" or text.startswith("~/"):
        return user_home / text[2:]
    path = Path(text)
    return path if path.is_absolute() else cwd / path


def _candidates(
    roots: Sequence[SkillRoot], watched: list[Path]
) -> Iterator[tuple[SkillSource, Path]]:
    seen: set[Path] = set()
    for source, root in roots:
        if root is None:
            continue
        for skill_dir in _skill_dirs(root, watched, allow_self=source == "host"):
            real = skill_dir.resolve()
            # The same directory reached twice (say cwd == user_home) is one skill, not a shadow.
            if real not in seen:
                seen.add(real)
                yield source, skill_dir


def _skill_dirs(root: Path, watched: list[Path], *, allow_self: bool) -> list[Path]:
    if allow_self:
        watched.append(root / SKILL_FILE)
        if (root / SKILL_FILE).is_file():
            return [root]
    watched.append(root)
    try:
        children = sorted(root.iterdir()) if root.is_dir() else []
    except OSError as exc:
        _LOG.warning("skills directory %s is unreadable: %s", root, exc)
        return []
    candidates = [child / SKILL_FILE for child in children]
    watched += candidates
    return [skill_file.parent for skill_file in candidates if skill_file.is_file()]


def _collect(
    candidates: Iterable[tuple[SkillSource, Path]], exclude: frozenset[str]
) -> SkillCatalog:
    found: dict[str, tuple[Skill, list[ShadowedSkill]]] = {}
    for source, skill_dir in candidates:
        header = _read_header(skill_dir)
        if header is None or header[0] in exclude:
            continue
        name, description = header
        if name in found:
            found[name][1].append(ShadowedSkill(source, skill_dir))
        else:
            found[name] = (Skill(name, description, source, skill_dir), [])
    return SkillCatalog(
        tuple(
            Skill(s.name, s.description, s.source, s.path, tuple(shadowed))
            for s, shadowed in found.values()
        )
    )


def _read_header(skill_dir: Path) -> tuple[str, str] | None:
    """(name, description) of a skill directory, or None (with a warning) when invalid."""
    skill_file = skill_dir / SKILL_FILE
    try:
        fields, _ = split_frontmatter(skill_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, FrontmatterError) as exc:
        _LOG.warning("skipping skill %s: %s", skill_file, exc)
        return None
    name, description = fields.get("name"), fields.get("description")
    if not isinstance(name, str) or not SKILL_NAME_RE.fullmatch(name):
        _LOG.warning("skipping skill %s: `name` must match %s", skill_file, SKILL_NAME_RE.pattern)
        return None
    if not isinstance(description, str) or not description.strip():
        _LOG.warning("skipping skill %s: `description` is missing", skill_file)
        return None
    return name, description.strip()
