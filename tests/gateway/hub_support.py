"""A real JupyterHub for the tests: the hub, its proxy (configurable-http-proxy, from npm),
the gateway as a hub-managed service, and learners' single-user servers.

Servers are started by ``SimpleLocalProcessSpawner`` (``jupyterhub-singleuser`` as this OS
user, one home folder per hub user under the test's folder), and users log in with the
``dummy`` authenticator -- everything else (OAuth between hub, gateway and servers, API
tokens, scopes, the proxy's routes) is JupyterHub's own. ``HubUser`` is a browser-like HTTP
client: cookies, the hub's XSRF token, redirects.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "learner-password"
SKIPPED_NBGRADER = ("assignment_list", "course_list", "formgrader", "validate_assignment")
SERVICE = "eduproject-tutor"

CONFIG = """
import sys
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {{"teacher"}}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/homes/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.LocalProcessSpawner.interrupt_timeout = 3
c.LocalProcessSpawner.term_timeout = 2
c.Spawner.http_timeout = 120
c.Spawner.environment = {environment!r}

{service_config}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chp_command() -> str:
    found = shutil.which("configurable-http-proxy")
    if not found:
        raise RuntimeError(
            "configurable-http-proxy is missing: run `bash scripts/system-deps.sh` "
            "(npm install -g configurable-http-proxy)"
        )
    return found


@dataclass
class Hub:
    url: str  # the proxy: what a browser sees
    api_url: str  # the hub's own API (internal)
    folder: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def home(self, user: str) -> Path:
        return self.folder / "homes" / user

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_hub(folder: Path, service_config: str, *, timeout_s: float = 180) -> Iterator[Hub]:
    """JupyterHub with ``service_config`` (Python lines for jupyterhub_config.py), started
    in ``folder``; stopped (servers and services too) afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "homes").mkdir(exist_ok=True)
    port, hub_port, proxy_api_port = free_port(), free_port(), free_port()
    bindir = Path(sys.executable).parent
    args = ["--allow-root"] if os.geteuid() == 0 else []
    # The kernels must import this checkout's eduproject and find no user config.
    environment = {
        "XDG_CONFIG_HOME": str(folder / "xdg-config"),
        "XDG_CACHE_HOME": str(folder / "xdg-cache"),
        "XDG_DATA_HOME": str(folder / "xdg-data"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(folder / "jupyter-config"),
    }
    # The learners' servers skip the server extensions they do not need here (nbgrader's
    # alone take seconds to import): the test waits for every server start.
    (folder / "jupyter-config").mkdir(exist_ok=True)
    unused = [f"nbgrader.server_extensions.{name}" for name in SKIPPED_NBGRADER]
    server_config = {
        "ServerApp": {"jpserver_extensions": dict.fromkeys([*unused, "jupyter_lsp"], False)}
    }
    (folder / "jupyter-config" / "jupyter_server_config.json").write_text(json.dumps(server_config))
    config = CONFIG.format(
        port=port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        chp=chp_command(),
        folder=folder,
        password=PASSWORD,
        singleuser=str(bindir / "jupyterhub-singleuser"),
        args=args,
        environment=environment,
        service_config=service_config,
    )
    (folder / "jupyterhub_config.py").write_text(config, encoding="utf-8")
    log = folder / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDUPROJECT_", "JUPYTERHUB_"))}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["CONFIGPROXY_AUTH_TOKEN"] = uuid.uuid4().hex
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(bindir / "jupyterhub"), "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    hub = Hub(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hub_port}/hub/api", folder, proc, log)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"JupyterHub exited early:\n{hub.log_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(hub.url + "/hub/api/", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"JupyterHub did not start:\n{hub.log_text()[-4000:]}")
            time.sleep(0.2)
        yield hub
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)  # the hub stops servers, services and the proxy
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


class HubUser:
    """A browser of one hub user: logs in, follows redirects, keeps cookies."""

    def __init__(self, hub: Hub, name: str) -> None:
        self.hub = hub
        self.name = name
        self.client = httpx.Client(base_url=hub.url, follow_redirects=True, timeout=60)

    def close(self) -> None:
        self.client.close()

    def xsrf(self, path: str = "/hub/") -> str:
        """The ``_xsrf`` cookie a page under ``path`` set (the hub's and each server's differ)."""
        found = [
            c for c in self.client.cookies.jar if c.name == "_xsrf" and path.startswith(c.path)
        ]
        found.sort(key=lambda c: len(c.path), reverse=True)
        return found[0].value if found and found[0].value else ""

    def log_in(self) -> None:
        page = self.client.get("/hub/login")
        page.raise_for_status()
        found = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        data = {"username": self.name, "password": PASSWORD}
        if found:
            data["_xsrf"] = found.group(1)
        done = self.client.post("/hub/login?next=/hub/home", data=data)
        assert done.status_code == 200 and "/hub/home" in str(done.url), done.text[:500]

    def start_server(self, timeout_s: float = 90) -> None:
        """Spawn this user's server the way the hub's home page does, and wait for it."""
        self.client.get("/hub/spawn", follow_redirects=False)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # The page, as a browser opens it: once the server runs, the redirects go through
            # the server's OAuth login with the hub and end with its cookie set.
            page = self.client.get(f"/user/{self.name}/lab")
            if page.status_code == 200 and page.url.path.startswith(f"/user/{self.name}/lab"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{self.name}'s server did not start:\n{self.hub.log_text()[-4000:]}")

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to the user's own Jupyter server API with the cookie and XSRF header."""
        headers = {"X-XSRFToken": self.xsrf(f"/user/{self.name}/"), **kwargs.pop("headers", {})}
        return self.client.request(method, f"/user/{self.name}{path}", headers=headers, **kwargs)


def run_in_kernel(user: HubUser, notebook: str, code: str, timeout_s: float = 120) -> str:
    """Open ``notebook`` (a path in the user's home) as the front end does -- a session, a
    kernel, its websocket -- run ``code`` in it, and return what it printed."""
    import asyncio

    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = user.api(
        "POST",
        "/api/sessions",
        json={
            "path": notebook,
            "type": "notebook",
            "name": notebook,
            "kernel": {"name": "python3"},
        },
    )
    assert session.status_code == 201, session.text
    kernel_id = session.json()["kernel"]["id"]
    ws_url = (
        user.hub.url.replace("http", "ws", 1)
        + f"/user/{user.name}/api/kernels/{kernel_id}/channels"
    )
    cookies = "; ".join(f"{c.name}={c.value}" for c in user.client.cookies.jar)
    msg_id = uuid.uuid4().hex

    async def talk() -> str:
        request = HTTPRequest(
            f"{ws_url}?session_id={uuid.uuid4().hex}",
            headers={"Cookie": cookies, "X-XSRFToken": user.xsrf(f"/user/{user.name}/")},
        )
        conn = await websocket_connect(request)
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": user.name,
                "session": uuid.uuid4().hex,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        out: list[str] = []
        try:
            await conn.write_message(json.dumps(message))
            while True:
                raw = await asyncio.wait_for(conn.read_message(), timeout_s)
                assert raw is not None, "the kernel's websocket closed"
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = reply["header"]["msg_type"]
                if kind == "stream":
                    out.append(reply["content"]["text"])
                elif kind == "error":
                    out.append("\n".join(reply["content"]["traceback"]))
                elif kind == "status" and reply["content"]["execution_state"] == "idle":
                    return "".join(out)
        finally:
            # Finish the closing handshake while the loop still runs: the socket is then
            # really closed (not left for the garbage collector to complain about).
            conn.close()
            with contextlib.suppress(TimeoutError):
                while await asyncio.wait_for(conn.read_message(), 10) is not None:
                    pass
            if conn.protocol is not None:
                conn.protocol.stream.close()

    return asyncio.run(talk())
