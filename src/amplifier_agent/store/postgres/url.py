"""PostgreSQL store URLs: which strings select the database backend, and how one is shown with
its password masked (in `config show`, errors and logs)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
MASK = "***"


def is_postgres_url(value: str) -> bool:
    return value.split("://", 1)[0].lower() in SCHEMES and "://" in value


def mask_url(url: str) -> str:
    """`url` with the password (if any) replaced by `***`; the rest is kept for diagnosis."""
    if "://" not in url:
        return MASK if "@" in url else url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return f"{url.split('://', 1)[0]}://{MASK}"
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def scrub(text: str, url: str) -> str:
    """`text` (a driver message, say) with every occurrence of the URL's password masked."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    if password:
        text = text.replace(url, mask_url(url)).replace(password, MASK)
    return text
