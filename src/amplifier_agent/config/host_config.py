"""host_config (SPEC §3): where it comes from, its closed schema, and the frozen values it yields.

Validation is by hand so that every failure maps to exactly one `config_*` code and names the
JSON path of the offending value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from amplifier_agent.config import schema
from amplifier_agent.config.schema import (
    as_bool,
    as_object,
    as_str,
    as_str_list,
    check_closed,
    invalid,
    join,
)
from amplifier_agent.core.catalog import KNOWN_PROVIDERS, MATRIX_NAMES, ROLES
from amplifier_agent.core.errors import ConfigError

CONFIG_ENV = "AMPLIFIER_AGENT_CONFIG"

PROVIDER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HOST_TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
APPROVAL_MODES = ("yes", "no", "prompt")

_TOP_KEYS = (
    "provider",
    "providers",
    "approval",
    "mcp",
    "skills",
    "host_tools",
    "routing",
    "allowProtocolSkew",
    "store",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """`provider`: the provider for `run`; `module` None means auto-detect."""

    module: str | None = None
    config: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """One `providers.<id>` entry; `module` defaults to the id."""

    id: str
    module: str
    config: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ApprovalConfig:
    mode: str | None = None
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SkillsConfig:
    dirs: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HostTool:
    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    matrix: str | None = None
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """`store`: where sessions and the ledger live; no `url` means the files under the state
    root."""

    url: str | None = None


@dataclass(frozen=True, slots=True)
class HostConfig:
    """A validated host_config. `providers` is None when the key is absent (serve tells the two
    apart); `raw` is the parsed document for display."""

    provider: ProviderChoice = field(default_factory=ProviderChoice)
    providers: tuple[ProviderEntry, ...] | None = None
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    mcp_config_path: str | None = None
    skills: SkillsConfig = field(default_factory=SkillsConfig)
    host_tools: tuple[HostTool, ...] = ()
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    allow_protocol_skew: bool | None = None
    store: StoreConfig = field(default_factory=StoreConfig)
    raw: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ConfigLocation:
    """Which file (if any) host_config comes from: source `--config`, `env:<VAR>` or `none`."""

    path: Path | None
    source: str


def locate_host_config(
    cli_path: str | None = None, env: Mapping[str, str] | None = None
) -> ConfigLocation:
    """`--config PATH` > `$AMPLIFIER_AGENT_CONFIG` > none (there is no implicit file)."""
    if cli_path is not None:
        return ConfigLocation(Path(cli_path).expanduser(), "--config")
    value = (os.environ if env is None else env).get(CONFIG_ENV)
    if value is not None and value.strip():
        return ConfigLocation(Path(value).expanduser(), f"env:{CONFIG_ENV}")
    return ConfigLocation(None, "none")


def load_host_config(
    cli_path: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[ConfigLocation, HostConfig]:
    """Locate, read and validate host_config; raises `ConfigError` with a `config_*` code."""
    location = locate_host_config(cli_path, env)
    if location.path is None:
        return location, HostConfig()
    return location, read_host_config(location.path)


def read_host_config(path: Path) -> HostConfig:
    """Read and validate one host_config file; messages are prefixed with the file path."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{path}: {reason}", code="config_unreadable") from exc
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})", code="config_malformed_json") from exc
    try:
        return parse_host_config(document)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}", code=exc.code) from exc


def parse_host_config(document: Any) -> HostConfig:
    """Validate a parsed document (a `null` root counts as `{}`)."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"the root must be a JSON object, not {schema.type_name(document)}",
            code="config_malformed_json",
        )
    check_closed(document, _TOP_KEYS, "")
    get = document.get
    return HostConfig(
        provider=_provider_choice(get("provider", {}), "provider"),
        providers=None if "providers" not in document else _providers(get("providers")),
        approval=_approval(get("approval", {})),
        mcp_config_path=_mcp(get("mcp", {})),
        skills=_skills(get("skills", {})),
        host_tools=_host_tools(get("host_tools", [])),
        routing=_routing(get("routing", {})),
        allow_protocol_skew=(
            None
            if "allowProtocolSkew" not in document
            else as_bool(get("allowProtocolSkew"), "allowProtocolSkew")
        ),
        store=_store(get("store", {})),
        raw=MappingProxyType(document),
    )


def _store(value: Any) -> StoreConfig:
    obj = as_object(value, "store")
    check_closed(obj, ("url",), "store")
    url = obj.get("url")
    return StoreConfig(url=None if url is None else as_str(url, "store.url"))


def _module(value: Any, where: str) -> str:
    module = as_str(value, where)
    if module not in KNOWN_PROVIDERS:
        known = ", ".join(sorted(KNOWN_PROVIDERS))
        raise ConfigError(
            f"{where}: {module!r} is not a provider module (known: {known})",
            code="config_invalid_provider_module",
        )
    return module


def _provider_choice(value: Any, where: str) -> ProviderChoice:
    obj = as_object(value, where)
    check_closed(obj, ("module", "config"), where)
    module = _module(obj["module"], join(where, "module")) if "module" in obj else None
    config = schema.provider_config(obj.get("config", {}), join(where, "config"))
    return ProviderChoice(module=module, config=config)


def _providers(value: Any) -> tuple[ProviderEntry, ...]:
    entries: list[ProviderEntry] = []
    for provider_id, entry in as_object(value, "providers").items():
        where = join("providers", provider_id)
        if not PROVIDER_ID_RE.fullmatch(provider_id):
            raise invalid(where, f"provider id must match {PROVIDER_ID_RE.pattern}")
        obj = as_object(entry, where)
        check_closed(obj, ("module", "config"), where)
        if "module" in obj:
            module = _module(obj["module"], join(where, "module"))
        elif provider_id in KNOWN_PROVIDERS:
            module = provider_id
        else:
            raise ConfigError(
                f"{where}: {provider_id!r} is not a provider module; set `module`",
                code="config_no_matching_module",
            )
        config = schema.provider_config(obj.get("config", {}), join(where, "config"))
        entries.append(ProviderEntry(id=provider_id, module=module, config=config))
    return tuple(entries)


def _approval(value: Any) -> ApprovalConfig:
    obj = as_object(value, "approval")
    check_closed(obj, ("mode", "patterns"), "approval")
    mode = None
    if "mode" in obj:
        mode = as_str(obj["mode"], "approval.mode")
        if mode not in APPROVAL_MODES:
            raise invalid("approval.mode", f"must be one of {', '.join(APPROVAL_MODES)}")
    patterns = as_str_list(obj.get("patterns", []), "approval.patterns")
    return ApprovalConfig(mode=mode, patterns=patterns)


def _mcp(value: Any) -> str | None:
    obj = as_object(value, "mcp")
    check_closed(obj, ("configPath",), "mcp")
    return as_str(obj["configPath"], "mcp.configPath") if "configPath" in obj else None


def _skills(value: Any) -> SkillsConfig:
    obj = as_object(value, "skills")
    check_closed(obj, ("skills", "visibility"), "skills")
    visibility = as_object(obj.get("visibility", {}), "skills.visibility")
    check_closed(visibility, ("exclude",), "skills.visibility")
    return SkillsConfig(
        dirs=as_str_list(obj.get("skills", []), "skills.skills"),
        exclude=as_str_list(visibility.get("exclude", []), "skills.visibility.exclude"),
    )


def _host_tools(value: Any) -> tuple[HostTool, ...]:
    if not isinstance(value, list):
        raise invalid("host_tools", f"must be an array, not {schema.type_name(value)}")
    tools: list[HostTool] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        tool = _host_tool(item, f"host_tools[{index}]")
        if tool.name in seen:
            raise invalid(f"host_tools[{index}].function.name", f"duplicate name {tool.name!r}")
        seen.add(tool.name)
        tools.append(tool)
    return tuple(tools)


def _host_tool(value: Any, where: str) -> HostTool:
    obj = as_object(value, where)
    check_closed(obj, ("type", "function"), where)
    if obj.get("type") != "function":
        raise invalid(join(where, "type"), 'must be "function"')
    fn_where = join(where, "function")
    if "function" not in obj:
        raise invalid(fn_where, "is required")
    fn = as_object(obj["function"], fn_where)
    # `strict` is accepted for OpenAI compatibility and has no effect.
    check_closed(fn, ("name", "description", "parameters", "strict"), fn_where)
    name = as_str(fn.get("name"), join(fn_where, "name"))
    if not HOST_TOOL_NAME_RE.fullmatch(name):
        raise invalid(join(fn_where, "name"), f"must match {HOST_TOOL_NAME_RE.pattern}")
    description = None
    if "description" in fn:
        description = as_str(fn["description"], join(fn_where, "description"))
    parameters = None
    if "parameters" in fn:
        parameters = MappingProxyType(as_object(fn["parameters"], join(fn_where, "parameters")))
    return HostTool(name=name, description=description, parameters=parameters)


def _routing(value: Any) -> RoutingConfig:
    obj = as_object(value, "routing")
    check_closed(obj, ("matrix", "roles"), "routing")
    matrix = None
    if "matrix" in obj:
        matrix = as_str(obj["matrix"], "routing.matrix")
        if matrix not in MATRIX_NAMES:
            raise invalid("routing.matrix", f"must be one of {', '.join(MATRIX_NAMES)}")
    roles_obj = as_object(obj.get("roles", {}), "routing.roles")
    check_closed(roles_obj, ROLES, "routing.roles")
    roles: dict[str, tuple[str, ...]] = {}
    for role, candidates in roles_obj.items():
        where = join("routing.roles", role)
        roles[role] = as_str_list(candidates, where)
        for index, candidate in enumerate(roles[role]):
            provider, _, pattern = candidate.partition("/")
            if not provider or not pattern:
                raise invalid(f"{where}[{index}]", "a candidate is `<provider>/<pattern>`")
    return RoutingConfig(matrix=matrix, roles=MappingProxyType(roles))
