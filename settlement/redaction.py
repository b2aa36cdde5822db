"""URLs as they may be printed: without the secrets that URLs often carry.

Hosted JSON-RPC providers put the customer's API key in the path or the query
(``https://eth-mainnet.example.com/v2/<key>``), and database URLs carry a password. A URL shown
in a log line, an error or a report goes through one of these first.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

HIDDEN = "***"


def public_rpc_url(url: str) -> str:
    """Scheme, host and port only: the path and query are replaced by ``***`` when present."""
    parts = _split(url)
    if parts is None:
        return HIDDEN
    hidden_rest = "/" + HIDDEN if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{_netloc_without_password(parts)}{hidden_rest}"


def public_database_url(url: str) -> str:
    """The URL with its password and query replaced by ``***``; a SQLite path is kept whole."""
    parts = _split(url)
    if parts is None:
        return HIDDEN
    query = "?" + HIDDEN if parts.query else ""
    return f"{parts.scheme}://{_netloc_without_password(parts)}{parts.path}{query}"


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it validates it, and a bad port is not shown
    except ValueError:
        return None
    return parts


def _netloc_without_password(parts: SplitResult) -> str:
    if parts.password is None:
        return parts.netloc
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return f"{user}:{HIDDEN}@{host}"
