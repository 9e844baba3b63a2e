"""The hub service's small parts that the real-hub test cannot make misbehave: redirects that
would leave the service, forged or stale cookies, any prefix, the environment it reads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from eduproject.errors import ConfigError
from eduproject.gateway.app import create_app
from eduproject.gateway.hub import HubEnvironment, HubLogin
from eduproject.learner.gateway_client import find_gateway

from .gateway_support import StartGateway

ENV = {
    "JUPYTERHUB_SERVICE_NAME": "tutor-cs101",
    "JUPYTERHUB_API_TOKEN": "service-secret",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_SERVICE_PREFIX": "/services/tutor-cs101/",
    "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:9876",
    "JUPYTERHUB_CLIENT_ID": "service-tutor-cs101",
}


def test_environment() -> None:
    assert HubEnvironment.read({}) is None
    assert HubEnvironment.read({"JUPYTERHUB_API_TOKEN": "x"}) is None  # a server, not a service
    env = HubEnvironment.read(ENV)
    assert env is not None and env.prefix == "/services/tutor-cs101/"
    assert env.listen_address() == ("127.0.0.1", 9876)
    with pytest.raises(ConfigError, match="no host and port"):
        HubEnvironment.read({**ENV, "JUPYTERHUB_SERVICE_URL": "http://hub"}).listen_address()  # type: ignore[union-attr]


def test_no_open_redirect_and_no_forged_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    login = HubLogin.from_environment(environ=ENV)
    assert login is not None
    assert login.auth.access_scopes == {"access:services!service=tutor-cs101"}
    keep = "/services/tutor-cs101/admin/summary?x=1"
    assert login.safe_next(keep) == keep
    for bad in ("https://evil.example/services/tutor-cs101/", "//evil.example/x", "/hub/home", ""):
        assert login.safe_next(bad) == "/services/tutor-cs101/"
    location, state = login.start_login("https://evil.example/")
    assert location.startswith("/hub/api/oauth2/authorize?client_id=service-tutor-cs101")
    assert "code_challenge_method=S256" in location and "state=" in location
    saved = login._unsign(state, "state", 600)
    assert saved is not None and json.loads(saved)[2] == "/services/tutor-cs101/"
    signed = login._sign("token", "hub-oauth-token")
    assert login._unsign(signed, "token", 60) == "hub-oauth-token"
    payload, _, mac = signed.rpartition(".")
    assert login._unsign(payload + "." + "0" * len(mac), "token", 60) is None  # forged
    assert login._unsign(signed, "state", 60) is None  # a state cookie is no session
    other = HubLogin.from_environment(environ={**ENV, "JUPYTERHUB_API_TOKEN": "another"})
    assert other is not None and other._unsign(signed, "token", 60) is None  # another service
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    assert login._unsign(signed, "token", 60) is None  # too old


def test_any_prefix_in_token_mode(start_gateway: StartGateway, tmp_path: Path) -> None:
    with start_gateway(model=False) as gw:
        app = create_app(gw.service, prefix="/services/tutor-cs101/")
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {gw.tokens['ada']}"}
            me = client.get("/services/tutor-cs101/v1/me", headers=headers)
            assert me.status_code == 200 and me.json()["learner"] == "ada"
            assert client.get("/v1/me", headers=headers).status_code == 404
            assert client.get("/services/tutor-cs101/v1/me").status_code == 401
            # Without a hub there is no OAuth login: a browser gets 401, not a redirect.
            page = client.get(
                "/services/tutor-cs101/admin/summary", headers={"Accept": "text/html"}
            )
            assert page.status_code == 401
            admin = {"Authorization": f"Bearer {gw.admin}", "Accept": "text/html"}
            summary = client.get("/services/tutor-cs101/admin/summary", headers=admin)
            assert summary.status_code == 200 and "<pre>TOTAL" in summary.text


def test_panels_find_the_gateway_from_the_hub_environment() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["Authorization"] != "token server-token":
            return httpx.Response(403, json={"message": "forbidden"})
        model = {
            "name": "eduproject-tutor",
            "url": "http://10.0.0.2:8765",
            "prefix": "/services/eduproject-tutor/",
        }
        if request.url.path.endswith("/services/eduproject-tutor"):
            return httpx.Response(200, json=model)
        return httpx.Response(404, json={"message": "no such service"})

    transport = httpx.MockTransport(hub)
    server = {
        "JUPYTERHUB_API_URL": "http://hub:8081/hub/api",
        "JUPYTERHUB_API_TOKEN": "server-token",
    }
    assert find_gateway(server, transport=transport) == (
        "http://10.0.0.2:8765/services/eduproject-tutor",
        "server-token",
    )
    assert str(seen[-1].url) == "http://hub:8081/hub/api/services/eduproject-tutor"
    # Another service name; a service the hub does not have; a token without read:services.
    assert (
        find_gateway({**server, "EDUPROJECT_TUTOR_SERVICE": "tutor-cs101"}, transport=transport)
        is None
    )
    assert find_gateway({**server, "JUPYTERHUB_API_TOKEN": "weak"}, transport=transport) is None
    # An address for kernels that reach the service another way: the hub token still counts.
    override = {**server, "EDUPROJECT_TUTOR_URL": "http://tutor.internal/services/eduproject-tutor"}
    assert find_gateway(override, transport=transport) == (
        "http://tutor.internal/services/eduproject-tutor",
        "server-token",
    )
    # A gateway token wins; the gateway service itself (hub env too) looks for nothing.
    tokens = {"EDUPROJECT_TUTOR_URL": "http://t:8765", "EDUPROJECT_TUTOR_TOKEN": "edut_x"}
    assert find_gateway({**server, **tokens}, transport=transport) == ("http://t:8765", "edut_x")
    assert find_gateway({**server, "JUPYTERHUB_SERVICE_NAME": "x"}, transport=transport) is None
    assert find_gateway({}, transport=transport) is None
