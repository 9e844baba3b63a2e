"""A learner in a real browser: JupyterLab on loopback, Debian's headless Chromium via Playwright.

Releases the sample lesson 01-functions, writes a partly right answer into its first exercise
(as a learner would), runs the notebook, and clicks the panel's Check and Hint and a failing
cell's "Explain this error". Twice: with the offline tutor, and with a model route to a
scripted OpenAI-compatible server on loopback that streams slowly, so the test sees the hint
grow in the page and the thumbs reach the ledger. Screenshots go to test-artifacts/browser/
(gitignored).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eduproject.authoring.release import release

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
LESSON = REPO / "exercises" / "01-functions"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# The learner's attempt at exercise 1: right for names, wrong for the empty name.
ATTEMPT = 'def greet(name):\n    """Say hello."""\n    return "Hello, " + name + "!"\n'

MODEL_HINT = (
    "Look at what your function gives back when the name is empty. "
    "The test empty_name expects a different greeting for that case, "
    "so your function needs to notice an empty name before it builds the usual text."
)

pytestmark = pytest.mark.slow


class _SlowModel(http.server.BaseHTTPRequestHandler):
    """``POST /v1/completions`` streaming MODEL_HINT in chunks 0.3 s apart."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = MODEL_HINT.split(" ")
        for start in range(0, len(words), 6):
            piece = " ".join(words[start : start + 6]) + " "
            chunk = {"choices": [{"index": 0, "text": piece, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.3)
        done = {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_model() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _offline_config() -> str:
    """eduproject.toml next to the notebook: the offline tutor only (fast, the same everywhere)."""
    return '[tutor]\nroutes = ["offline"]\n'


def _model_config(base_url: str, ledger: Path) -> str:
    """eduproject.toml next to the notebook: one model route, a ledger we can read back."""
    return f"""
[[routes]]
name = "loopback"
provider = "openai"
model = "scripted-tutor"
family = "smollm2-instruct"
base_url = "{base_url}"
chat = false
retries = 0

[tutor]
routes = ["loopback", "offline"]
allowance = 5

[cache]
enabled = false

[ledger]
path = "{ledger}"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _learner_folder(out: Path) -> Path:
    result = release(LESSON, out, out / "grader")
    nb = json.loads(result.notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("eduproject", {}).get("cell") == "greet-solution":
            cell["source"] = ATTEMPT.splitlines(keepends=True)
    result.notebook.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return result.notebook.parent


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, slow_model: str
) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab serving two copies of a released lesson: ``offline/`` and ``model/``, each
    with its own eduproject.toml. Yields (base URL, token, root folder)."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    (_learner_folder(root / "offline") / "eduproject.toml").write_text(_offline_config())
    (_learner_folder(root / "model") / "eduproject.toml").write_text(
        _model_config(slow_model, root / "ledger.sqlite3")
    )
    home = tmp_path / "home"
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
    for name in ("EDUPROJECT_CONFIG", "EDUPROJECT_LEDGER", "EDUPROJECT_TUTOR_ROUTES"):
        env.pop(name, None)
    token, port = secrets.token_hex(16), _free_port()
    log = (tmp_path / "lab.log").open("w")
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
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not start in 90 s"
            time.sleep(0.3)
        yield base, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# The label under each answer says who wrote it. The scripted model always sends the same
# hint, which the guard may turn down as an error explanation: then a fallback answers.
HINT_LABELS = {
    "offline": r"^Offline tutor",
    "model": r"^AI-generated by scripted-tutor via loopback",
}
ERROR_LABELS = {
    "offline": r"^Offline tutor",
    "model": r"^AI-generated by scripted-tutor|^Offline tutor",
}


def _accepted(ledger: Path) -> list[int | None]:
    with sqlite3.connect(ledger) as db:
        return [
            row[0] for row in db.execute("SELECT accepted FROM attempts WHERE accepted IS NOT NULL")
        ]


def _shut_down_kernels(base: str, token: str) -> None:
    for session in httpx.get(f"{base}/api/sessions", params={"token": token}).json():
        httpx.delete(f"{base}/api/sessions/{session['id']}", params={"token": token})


def _wait_for_kernel(base: str, token: str) -> None:
    """Until the notebook's kernel is idle with the page connected (Run All is lost before)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        sessions = httpx.get(f"{base}/api/sessions", params={"token": token}).json()
        kernels = [s["kernel"] for s in sessions if s.get("kernel")]
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.3)
    raise AssertionError(f"the notebook's kernel did not become ready: {sessions}")


@pytest.mark.parametrize("kind", ["offline", "model"])
def test_learner_checks_gets_a_hint_and_an_error_explanation(
    lab: tuple[str, str, Path], kind: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token, root = lab
    shots = ARTIFACTS / kind
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.set_default_timeout(60_000)
            expect.set_options(timeout=60_000)  # kernel start and Run All take a while on 2 cores
            # `reset`: a fresh workspace, not the tabs the previous test left open.
            notebook = f"{kind}/01-functions/01-functions.ipynb"
            page.goto(f"{base}/lab/tree/{notebook}?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            _wait_for_kernel(base, token)
            page.keyboard.press("Control+b")  # hide the file browser: more room for the notebook

            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            # The test cell of exercise 1 fails, and Run All stops there.
            tests_cell = page.locator(".jp-CodeCell", has_text="### TEST says_hello")
            expect(tests_cell.locator(".jp-OutputArea-output").first).to_contain_text(
                'greet("") should return "Hello, stranger!"'
            )

            # The learner runs the panel cell below it.
            panel_cell = page.locator(".jp-CodeCell", has_text='eduproject.panel("greet")')
            panel_cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            panel = panel_cell.locator(".edu-panel")
            expect(panel).to_be_visible()
            panel.scroll_into_view_if_needed()

            panel.get_by_role("button", name="Check").click()
            response = panel.locator(".edu-response")
            expect(response).to_contain_text("greet: 1 of 2 visible tests passed")
            expect(response).to_contain_text("✓")
            expect(response).to_contain_text("empty_name")
            panel.screenshot(path=shots / "panel-check.png")

            panel.get_by_role("button", name="Hint").click()
            expect(response).to_contain_text("Hint 1 of 3")
            reply, meta = panel.locator(".edu-reply"), panel.locator(".edu-meta")
            if kind == "model":
                # The hint streams in: part of it shows while the model is still writing.
                expect(panel.locator(".edu-status")).to_have_text("Writing…")
                partial = reply.inner_text()
                assert partial and len(partial) < len(MODEL_HINT)
            expect(meta).to_contain_text(re.compile(HINT_LABELS[kind]))
            expect(panel.locator(".edu-status")).to_have_count(0)
            expect(reply).not_to_be_empty()
            expect(panel.get_by_role("button", name="Next hint")).to_be_visible()
            panel.screenshot(path=shots / "panel-hint.png")
            page.screenshot(path=shots / "notebook.png")
            if kind == "model":
                expect(reply).to_have_text(MODEL_HINT)
                expect(meta).to_contain_text(re.compile(r"\d+\.\d s"))  # latency
                expect(panel.locator(".edu-remaining")).to_have_text("4 questions left")
                panel.get_by_role("button", name="Yes").click()
                expect(response).to_contain_text("Thanks for the feedback.")
                expect(panel.locator(".edu-rating")).to_be_hidden()
                assert _accepted(root / "ledger.sqlite3") == [1]

            # Now that eduproject is loaded, a failing cell gets an "Explain this error" button.
            tests_cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+Enter")
            explain_error = tests_cell.locator(".edu-explain-error")
            expect(explain_error).to_be_visible()
            stderr = "[data-mime-type='application/vnd.jupyter.stderr']"
            expect(tests_cell.locator(stderr)).to_contain_text("AssertionError")
            explain_error.click()
            help_box = tests_cell.locator(".edu-error-help")
            expect(help_box.locator(".edu-response")).to_contain_text("About this error")
            expect(help_box.locator(".edu-meta")).to_contain_text(re.compile(ERROR_LABELS[kind]))
            expect(help_box.locator(".edu-reply")).not_to_be_empty()
            tests_cell.screenshot(path=shots / "explain-error.png")
        except Exception:
            page.screenshot(path=shots / "failure.png")  # what the learner saw when it broke
            raise
        finally:
            browser.close()
            _shut_down_kernels(base, token)  # the next notebook gets both cores
