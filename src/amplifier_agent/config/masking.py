"""How secrets are shown: at most the last 4 characters of a value, never the whole thing."""

from __future__ import annotations

import re
from typing import Any

from amplifier_agent.core.urls import mask_url, url_password

SECRET_KEY_RE = re.compile(r"key|token|secret|password", re.IGNORECASE)

_REVEAL_MIN_LENGTH = 12
_REVEALED = 4


def mask_secret(value: str | None) -> str:
    """`...` + last 4 for values of 12+ characters, `***` when shorter, `<not set>` when empty."""
    if not value:
        return "<not set>"
    if len(value) >= _REVEAL_MIN_LENGTH:
        return "..." + value[-_REVEALED:]
    return "***"


def mask_secret_values(obj: Any, *, under_secret: bool = False) -> Any:
    """A copy of a JSON value with every string under a secret-looking key masked.

    A URL carrying a password shows with the password masked wherever it is. Numbers, booleans
    and null stay visible (`max_tokens` matches the pattern but is no secret).
    """
    if isinstance(obj, dict):
        return {
            key: mask_secret_values(
                value, under_secret=under_secret or bool(SECRET_KEY_RE.search(str(key)))
            )
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [mask_secret_values(item, under_secret=under_secret) for item in obj]
    if under_secret and isinstance(obj, str):
        return mask_secret(obj) if obj else obj
    if isinstance(obj, str) and url_password(obj):
        return mask_url(obj)  # a database URL's password, under any key
    return obj
