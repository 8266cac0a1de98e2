"""Showing a URL that may carry a password (a database URL, say): the password becomes `***`
wherever the URL or its password would otherwise appear."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password if "://" in url else None
    except ValueError:
        return None


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
    password = url_password(url)
    if password:
        # The driver sees the password percent-decoded; either form may appear.
        text = text.replace(url, mask_url(url)).replace(password, MASK)
        text = text.replace(unquote(password), MASK)
    return text
