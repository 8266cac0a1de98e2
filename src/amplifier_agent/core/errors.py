"""The one error tree. Each face maps it once: exit code, HTTP status, JSON-RPC error.

    AmplifierError(code, message, remediation)      every engine error; `code` is the wire/CLI code
    ├── ConfigError          config_*, credentials_corrupt, argv_*   (classification: protocol)
    ├── ProviderNotConfigured  provider_not_configured / credentials_missing: no key or endpoint
    ├── ModuleNotInstalled     an optional adapter's dependency is absent
    ├── SessionError          invalid_session, session_not_found, stale_session
    ├── StorageError          storage_error: the state root cannot be written or read
    └── ProviderError         a model call failed; `upstream` says how (see UPSTREAM_CODES)

`classify(code)` is a pure function of the code (SPEC §7.4).
"""

from __future__ import annotations

from typing import Literal

Classification = Literal["protocol", "approval", "engine", "transport"]

UpstreamCode = Literal[
    "upstream_error",
    "upstream_timeout",
    "upstream_auth_error",
    "upstream_unavailable",
    "rate_limited",
]

_PROTOCOL_CODES = frozenset(
    {
        "approval_unconfigured",
        "credentials_corrupt",
        "prompt_required",
        "invalid_session",
        "session_not_found",
        "protocol_version_mismatch",
        "provider_not_configured",
        "wire_protocol_violation",
        "config_validation",
        "env_injection_rejected",
    }
)
_APPROVAL_CODES = frozenset(
    {
        "approval_denied",
        "approval_timeout",
        "approval_protocol_violation",
        "approval_translation_failed",
    }
)
_TRANSPORT_CODES = frozenset({"spawn_failed"})

EXIT_CODES: dict[Classification, int] = {
    "protocol": 2,
    "approval": 3,
    "engine": 1,
    "transport": 1,
}


def classify(code: str) -> Classification:
    """The classification of an error code; unknown codes are engine errors."""
    if code in _PROTOCOL_CODES or code.startswith(("argv_", "config_")):
        return "protocol"
    if code in _APPROVAL_CODES:
        return "approval"
    if code in _TRANSPORT_CODES:
        return "transport"
    return "engine"


def exit_code_for(code: str) -> int:
    return EXIT_CODES[classify(code)]


class AmplifierError(Exception):
    """Base of every error the engine raises on purpose."""

    code: str = "internal"

    def __init__(self, message: str, *, code: str | None = None, remediation: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.remediation = remediation

    @property
    def classification(self) -> Classification:
        return classify(self.code)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigError(AmplifierError):
    """Bad host_config, credentials file or command-line value."""

    code = "config_validation"


class ProviderNotConfigured(AmplifierError):
    """A provider lacks its credential or endpoint; `env_var` names what to set."""

    code = "provider_not_configured"

    def __init__(self, message: str, *, env_var: str | None = None, code: str | None = None):
        super().__init__(
            message,
            code=code,
            remediation=(
                f"export {env_var} or run `amplifier-agent auth set ...`" if env_var else None
            ),
        )
        self.env_var = env_var


class ModuleNotInstalled(AmplifierError):
    """An adapter's optional dependency (for example llama-cpp-python) is not installed."""

    code = "module_not_installed"


class SessionError(AmplifierError):
    code = "invalid_session"


class StorageError(AmplifierError):
    """The state root could not be written or read (full disk, read-only, permissions).

    An engine error (exit 1), kept apart from `stale_session` so nobody hunts for a broken
    session when the disk is the problem.
    """

    code = "storage_error"


def storage_error(action: str, path: object, exc: OSError) -> StorageError:
    """`StorageError` saying what could not be done to which path, and the OS's reason."""
    return StorageError(f"cannot {action} {path}: {exc.strerror or exc}")


class ProviderError(AmplifierError):
    """A model call or model listing failed upstream.

    `upstream` is the HTTP-face cause code; `status` the provider's HTTP status when there was
    one; `retry_after` seconds when the provider said. The CLI reports these as `runtime`.
    """

    code = "runtime"

    def __init__(
        self,
        upstream: UpstreamCode,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"{upstream}: {message}")
        self.upstream: UpstreamCode = upstream
        self.status = status
        self.retry_after = retry_after
        self.detail = message
