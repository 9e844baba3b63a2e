"""The AI policy matrix: where a setting is written (course, lesson, exercise) x each action x
where it is decided (the learner's kernel and Jupyter server, or the gateway's HTTP API).

One course per level turns every action off at that level; each action must then be refused
for the exercise it covers, with the same words in the kernel and from the gateway (403,
``refused: "policy"``), and stay on where the setting does not reach (another exercise,
another lesson). The gateway is called directly, as a learner with a token could.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from eduproject.authoring.release import release
from eduproject.completion.context import CompletionInput
from eduproject.core.pack import LessonPack
from eduproject.core.policy import ACTION_LABELS, ACTIONS, Action
from eduproject.errors import PolicyRefused
from eduproject.gateway.service import TutorService
from eduproject.learner.completion_backends import LocalCompletions
from eduproject.learner.panel_controller import PanelController
from eduproject.tutor.tutor import Tutor
from tests.gateway.gateway_support import running_gateway
from tests.support.lessons import notebook_json

ALL_OFF = "\n".join(f"{action} = false" for action in ACTIONS)
SOLUTION = "def {name}(x):\n    ### BEGIN SOLUTION\n    return {body}\n    ### END SOLUTION"
CODE = "def double(x):\n    return x + x\n"
LEVELS = ("course", "lesson", "exercise")


def _cells(lesson_off: bool, exercise_off: bool) -> list[tuple[str, str]]:
    return [
        ("md", "# Functions"),
        *([("md ai-policy", f"```toml\n{ALL_OFF}\n```")] if lesson_off else []),
        ("md exercise=double", "# Double\nWrite `double(x)`."),
        *([("md ai-policy", ALL_OFF)] if exercise_off else []),
        ("code solution", SOLUTION.format(name="double", body="2 * x")),
        ("code tests", "assert double(2) == 4\nassert double(0) == 0"),
        ("md exercise=triple", "# Triple\nWrite `triple(x)`."),
        ("code solution", SOLUTION.format(name="triple", body="3 * x")),
        ("code tests", "assert triple(2) == 6"),
    ]


@dataclass
class Course:
    level: str
    folder: Path  # holds eduproject.toml, exercises/ and the released notebooks/
    gateway: str
    token: str

    def pack(self, lesson: str) -> LessonPack:
        return LessonPack.load(self.folder / "notebooks" / lesson / "lesson.json")


@pytest.fixture(scope="module", params=LEVELS)
def course(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Course]:
    level = request.param
    folder = tmp_path_factory.mktemp(f"course-{level}")
    (folder / "eduproject.toml").write_text(
        # No model at all (not even the bundled one): the policy is decided before any call.
        '[tutor]\nroutes = ["offline"]\n\n[complete]\nroutes = []\n\n[cache]\nenabled = false\n\n'
        f'[ledger]\npath = "ledger.sqlite3"\n\n[gateway]\nrun_tests = false\n\n'
        f"[policy]\n{ALL_OFF if level == 'course' else ''}\n"
    )
    for lesson in ("fns", "other"):
        target = lesson == "fns"
        lesson_folder = folder / "exercises" / lesson
        lesson_folder.mkdir(parents=True)
        cells = _cells(target and level == "lesson", target and level == "exercise")
        (lesson_folder / f"{lesson}.ipynb").write_text(json.dumps(notebook_json(cells)))
        release(lesson_folder, folder / "notebooks", folder / "grader")
    service = TutorService.from_course(folder)
    token = dict(service.tokens.issue(["ada"]).tokens)["ada"]
    with running_gateway(service) as url:
        yield Course(level, folder, url, token)


def _targets(course: Course) -> list[tuple[str, str, bool]]:
    """(lesson, exercise, refused?) pairs: the exercise the setting covers, and controls."""
    cases = [("fns", "double", True)]
    if course.level == "exercise":
        cases.append(("fns", "triple", False))
    if course.level in ("exercise", "lesson"):
        cases.append(("other", "double", False))
    else:
        cases.append(("other", "double", True))
    return cases


def _in_kernel(course: Course, lesson: str, exercise: str, action: Action) -> str | None:
    """The learner's side: the tutor and panel in the kernel, the completer in the learner's
    Jupyter server. Returns the refusal shown, or None when the action ran."""
    pack = course.pack(lesson)
    tutor = Tutor(pack)
    try:
        if action == "check":
            controller = PanelController(
                exercise,
                pack=pack,
                tutor=tutor,
                history=lambda: [CODE],
                namespace=lambda: {},
                spawn=lambda job: job(),
            )
            controller.check()
            return None if controller.last_check is not None else controller.state.error
        if action == "hint":
            tutor.hint(exercise, CODE, (), 1)
        elif action == "explain_code":
            tutor.explain_code(CODE, exercise)
        elif action == "explain_error":
            tutor.explain_error("NameError: name 'y' is not defined", CODE, exercise)
        elif action == "ask":
            tutor.ask("What does return do?", CODE, exercise)
        else:
            backend = LocalCompletions(course.folder)
            inp = CompletionInput(prefix="y = ", lesson=lesson, exercise=exercise, role="context")
            path = f"notebooks/{lesson}/{lesson}.ipynb"
            status, body = asyncio.run(backend.complete(path, inp, "tab")) or (204, {})
            return body["error"] if status == 403 else None
    except PolicyRefused as exc:
        assert exc.action == action
        return exc.message
    return None


def _gateway(course: Course, lesson: str, exercise: str, action: Action) -> tuple[int, Any]:
    where = {"lesson": lesson, "exercise": exercise}
    route, body = {
        "check": ("check", {**where, "passed": 1, "total": 2}),
        "hint": ("hint", {**where, "code": CODE, "tests": [], "level": 1}),
        "explain_code": ("explain", {**where, "code": CODE}),
        "explain_error": ("explain-error", {**where, "error": "NameError: y", "code": CODE}),
        "ask": ("ask", {**where, "question": "What does return do?", "context": CODE}),
        "complete": ("complete", {**where, "prefix": "y = ", "role": "context"}),
    }[action]
    response = httpx.post(
        f"{course.gateway}/v1/{route}",
        json=body,
        headers={"Authorization": f"Bearer {course.token}"},
        timeout=30,
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("action", ACTIONS)
def test_policy_matrix(course: Course, action: Action) -> None:
    message = f"Your instructor turned {ACTION_LABELS[action]} off for this exercise."
    for lesson, exercise, refused in _targets(course):
        where = f"{course.level}-level setting, {lesson}/{exercise}, {action}"
        shown = _in_kernel(course, lesson, exercise, action)
        status, body = _gateway(course, lesson, exercise, action)
        if refused:
            assert shown == message, where
            assert (status, body) == (
                403,
                {"error": message, "refused": "policy", "action": action},
            ), where
        else:
            assert shown is None, where
            assert status == 200, (where, body)
