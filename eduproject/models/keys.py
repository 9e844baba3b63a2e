"""API keys: read from the environment (or a keyring), never written anywhere.

A route names the environment variable that holds its key (``api_key_env``); the key's
value lives only in the provider object that sends it. Every error message, log line and
ledger entry passes through :func:`redact` with the keys in use, so even a server that
echoes the ``Authorization`` header back cannot put a key into our files.

    >>> redact("bad key sk-123456 given", ["sk-123456"])
    'bad key [redacted] given'
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable

from eduproject.errors import RouteError, RouteErrorKind
from eduproject.models.settings import RouteConfig

REDACTED = "[redacted]"
# Shorter values are not keys, and redacting them would garble ordinary text.
MIN_SECRET_LEN = 6


def resolve_api_key(route: RouteConfig) -> str | None:
    """The key for ``route``: from ``api_key_env``, else the keyring service, else None."""
    if route.api_key_env:
        value = os.environ.get(route.api_key_env)
        if value:
            return value.strip()
    if route.keyring_service:
        try:
            keyring = importlib.import_module("keyring")
        except ImportError:
            return None
        value = keyring.get_password(route.keyring_service, route.name)
        return value or None
    return None


def missing_key_error(route: RouteConfig) -> RouteError:
    """The error for a route whose key source is configured but empty."""
    where = (
        f"the environment variable {route.api_key_env}"
        if route.api_key_env
        else f"the keyring service {route.keyring_service!r} (user {route.name!r})"
    )
    return RouteError(
        route.name,
        RouteErrorKind.UNAVAILABLE,
        f"no API key in {where}",
        hint=f"set {route.api_key_env or 'the key'} before starting Jupyter; "
        "never write the key in eduproject.toml",
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LEN:
            text = text.replace(secret, REDACTED)
    return text
