"""JupyterLab on loopback and Debian's headless Chromium, for the real-browser tests.

``running_jupyterlab(root, tmp)`` starts one real JupyterLab (this environment's, with its
extensions: eduproject's inline completer included) serving ``root``, with a private home in
``tmp`` (no news popup, no kernel dialog, every cell attached to the page so that locators
find cells out of view). Start it once per test module: it takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_jupyterlab(root: Path, tmp: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root``; yields (base URL, token). ``tmp`` holds its home and log."""
    home = tmp / "home"
    settings = home / "lab-settings" / "@jupyterlab"
    for plugin, values in (
        # No "get notified about Jupyter news?" popup over the notebook.
        ("apputils-extension/notification", {"fetchNews": "false"}),
        # No "Select Kernel" dialog: the notebook names its kernel.
        # All cells attached to the page, so that locators find cells out of view.
        ("notebook-extension/tracker", {"autoStartDefaultKernel": True, "windowingMode": "none"}),
    ):
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    labconfig = home / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    # nbgrader (a dev dependency for the importers) adds menus a learner never sees.
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyter/nbgrader": True}})
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
    }
    for name in list(env):
        if name.startswith("EDUPROJECT_"):
            del env[name]
    token, port = secrets.token_hex(16), free_port()
    log_path = tmp / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                f"--ServerApp.token={token}",
                "--ServerApp.ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={home / 'lab-settings'}",
                f"--LabApp.workspaces_dir={home / 'lab-workspaces'}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "JupyterLab did not start in 90 s"
                time.sleep(0.3)
            yield base, token
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def shut_down_kernels(base: str, token: str) -> None:
    for session in httpx.get(f"{base}/api/sessions", params={"token": token}).json():
        httpx.delete(f"{base}/api/sessions/{session['id']}", params={"token": token})


def wait_for_kernel(base: str, token: str) -> None:
    """Until the notebook's kernel is idle with the page connected (Run All is lost before)."""
    deadline = time.monotonic() + 90
    sessions: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        sessions = httpx.get(f"{base}/api/sessions", params={"token": token}).json()
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.3)
    raise AssertionError(f"the notebook's kernel did not become ready: {sessions}")
