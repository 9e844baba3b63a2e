"""The gateway as a JupyterHub service: the hub says who is asking, no tokens to hand out.

When JupyterHub starts ``eduproject serve`` as a service (``c.JupyterHub.services``), the
process finds everything in its environment: ``JUPYTERHUB_SERVICE_PREFIX`` (it answers under
``/services/<name>/``, any name), ``JUPYTERHUB_SERVICE_URL`` (where to listen),
``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN`` (how to ask the hub), and
``JUPYTERHUB_CLIENT_ID`` (its OAuth client). Identities come from the hub's own service-auth
helper, :class:`jupyterhub.services.auth.HubOAuth`:

* a kernel sends its server's ``JUPYTERHUB_API_TOKEN`` (``Authorization: token ...``); the hub
  says whose it is and whether it may reach this service (``access:services!service=<name>``);
* a browser (an instructor opening the summary) is sent through the hub's OAuth login and
  keeps a signed cookie holding its OAuth token. Cookies count for ``GET`` only, so no other
  site can make a browser spend a learner's questions.

A hub user is an admin of the gateway when the hub says ``admin``, when they belong to one of
``[gateway] admin_groups`` (default ``instructors``), or when a hub role gives them the custom
scope ``custom:eduproject:admin`` (:data:`ADMIN_SCOPE`; see docs/classroom.md). Gateway tokens (``edut_...``) keep working
next to the hub: the token mode is for deployments without one::

    login = HubLogin.from_environment(admin_groups=("instructors",))   # None outside a hub
    who = await login.identify(token)        # Identity('ada', 'learner', via='hub') | None
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from eduproject.errors import ConfigError, GatewayError
from eduproject.gateway.tokens import Identity

log = logging.getLogger("eduproject.gateway")

# Seconds a hub answer about a token is trusted: a stopped server's token (or a user removed
# from the hub) stops working at most this long after.
CACHE_S = 60
STATE_MAX_AGE_S = 600
COOKIE_MAX_AGE_S = 8 * 3600
FORBIDDEN = Identity(name="", role="learner", via="forbidden")
# A hub role may carry this custom scope (c.JupyterHub.custom_scopes) to make its members admins.
ADMIN_SCOPE = "custom:eduproject:admin"


class HubUnavailable(GatewayError):
    """The hub could not be asked who a token belongs to."""


@dataclass(frozen=True)
class HubEnvironment:
    """What JupyterHub tells a service it starts (see the module docstring)."""

    api_url: str
    api_token: str
    client_id: str
    prefix: str
    service_url: str
    name: str

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> HubEnvironment | None:
        """The hub's variables, or None when this process was not started as a hub service."""
        env = os.environ if environ is None else environ
        token = env.get("JUPYTERHUB_API_TOKEN", "")
        name = env.get("JUPYTERHUB_SERVICE_NAME", "")
        if not token or not name:
            return None
        prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or f"/services/{name}/"
        return cls(
            api_url=env.get("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api",
            api_token=token,
            client_id=env.get("JUPYTERHUB_CLIENT_ID") or f"service-{name}",
            prefix="/" + prefix.strip("/") + "/",
            service_url=env.get("JUPYTERHUB_SERVICE_URL", ""),
            name=name,
        )

    def listen_address(self) -> tuple[str, int] | None:
        """Host and port of ``JUPYTERHUB_SERVICE_URL`` (the service's ``url``), if set."""
        if not self.service_url:
            return None
        parts = urlsplit(self.service_url)
        if parts.hostname is None or parts.port is None:
            raise ConfigError(
                f"JUPYTERHUB_SERVICE_URL={self.service_url!r} has no host and port",
                hint="give the service a url such as http://127.0.0.1:8765 in jupyterhub_config.py",
            )
        return parts.hostname, parts.port


class HubLogin:
    """Hub identities for the gateway, through JupyterHub's :class:`HubOAuth`."""

    def __init__(self, env: HubEnvironment, *, admin_groups: tuple[str, ...] = ()) -> None:
        try:
            from jupyterhub.services.auth import HubOAuth
        except ImportError:
            raise ConfigError(
                "running as a JupyterHub service needs the jupyterhub package",
                hint="pip install 'eduproject[hub]' where the gateway runs",
            ) from None
        self.env = env
        self.admin_groups = frozenset(admin_groups)
        self.auth = HubOAuth(
            api_url=env.api_url,
            api_token=env.api_token,
            oauth_client_id=env.client_id,
            base_url=env.prefix,
            cache_max_age=CACHE_S,
        )
        if not self.auth.access_scopes:
            self.auth.access_scopes = {f"access:services!service={env.name}"}
        # The cookie signing key: only this service (all its processes) knows the API token.
        self._key = hmac.new(env.api_token.encode(), b"eduproject-cookie", "sha256").digest()

    @classmethod
    def from_environment(
        cls, *, admin_groups: tuple[str, ...] = (), environ: Mapping[str, str] | None = None
    ) -> HubLogin | None:
        env = HubEnvironment.read(environ)
        return None if env is None else cls(env, admin_groups=admin_groups)

    @property
    def prefix(self) -> str:
        return self.env.prefix

    @property
    def cookie_name(self) -> str:
        return self.env.client_id

    # -- who is asking ---------------------------------------------------------------------

    async def identify(self, token: str) -> Identity | None:
        """The hub user owning ``token``; :data:`FORBIDDEN` when they may not use this
        service; None when the hub knows no such token."""
        try:
            model = await self.auth.user_for_token(token, sync=False)
        except Exception as exc:  # tornado's HTTPError: the hub is down or refused us
            log.warning("cannot check a token with the hub: %s", type(exc).__name__)
            raise HubUnavailable("the hub could not be asked who you are") from None
        if not model or model.get("kind", "user") != "user" or not model.get("name"):
            return None
        if not self.auth.check_scopes(self.auth.access_scopes, model):
            return FORBIDDEN
        groups = set(model.get("groups") or ())
        admin = (
            bool(model.get("admin"))
            or bool(groups & self.admin_groups)
            or ADMIN_SCOPE in (model.get("scopes") or ())
        )
        return Identity(name=str(model["name"]), role="admin" if admin else "learner", via="hub")

    async def identify_cookie(self, value: str) -> Identity | None:
        token = self._unsign(value, "token", COOKIE_MAX_AGE_S)
        return None if token is None else await self.identify(token)

    # -- the OAuth dance (browsers) ----------------------------------------------------------

    def start_login(self, next_url: str) -> tuple[str, str]:
        """Where to send a browser to log in, and the state cookie's value."""
        verifier, challenge, method = self.auth.generate_pkce_code_challenge()
        state = secrets.token_urlsafe(16)
        query = urlencode(
            {"state": state, "code_challenge": challenge, "code_challenge_method": method}
        )
        cookie = self._sign("state", json.dumps([state, verifier, self.safe_next(next_url)]))
        return f"{self.auth.login_url}&{query}", cookie

    async def finish_login(self, code: str, state: str, state_cookie: str) -> tuple[str, str]:
        """Exchange the hub's ``code``: the session cookie's value and where to go next."""
        saved = self._unsign(state_cookie, "state", STATE_MAX_AGE_S)
        if saved is None:
            raise GatewayError("the login took too long or came from elsewhere: start again")
        expected, verifier, next_url = json.loads(saved)
        if not hmac.compare_digest(expected, state):
            raise GatewayError("the login came back with the wrong state: start again")
        try:
            token = await self.auth.token_for_code(code, code_verifier=verifier, sync=False)
        except Exception as exc:
            log.warning("OAuth code exchange failed: %s", type(exc).__name__)
            raise GatewayError("the hub did not confirm the login: start again") from None
        return self._sign("token", token), self.safe_next(next_url)

    def safe_next(self, next_url: str) -> str:
        """``next_url`` if it stays on this service, else the service's root (no open redirect)."""
        parts = urlsplit(next_url or "")
        if parts.scheme or parts.netloc or not parts.path.startswith(self.prefix):
            return self.prefix
        return parts.path + (f"?{parts.query}" if parts.query else "")

    # -- signed cookie values ---------------------------------------------------------------

    def _sign(self, purpose: str, value: str) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps([purpose, int(time.time()), value]).encode()
        ).decode()
        mac = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        return f"{payload}.{mac}"

    def _unsign(self, signed: str, purpose: str, max_age_s: int) -> str | None:
        payload, _, mac = signed.rpartition(".")
        expected = hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
        if not payload or not hmac.compare_digest(mac, expected):
            return None
        try:
            kind, when, value = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError):
            return None
        if kind != purpose or time.time() - when > max_age_s or not isinstance(value, str):
            return None
        return value


def cookie_header(name: str, value: str, *, path: str, max_age: int, secure: bool) -> bytes:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Lax, scoped to the service's prefix."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")
