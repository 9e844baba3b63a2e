"""The AI policy: layers, resolution, messages, and where its settings are written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.authoring.parse import load_lesson
from eduproject.authoring.release import release
from eduproject.core.pack import LessonPack
from eduproject.core.policy import (
    AiPolicy,
    PolicyLayer,
    PolicyProblem,
    course_layer,
    layer_from_cell,
    layer_from_table,
    resolve,
)
from eduproject.errors import ConfigError, LessonFormatError
from eduproject.models.config import load_config
from eduproject.tutor.offline import HINT_LEVELS

PROMPT = ("md exercise=double", "# Double\nWrite `double(x)`.")
SOLUTION = (
    "code solution",
    "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
)
TESTS = ("code tests", "assert double(2) == 4")


def test_defaults_turn_everything_on_but_completion_in_graded_solutions() -> None:
    graded, ungraded = resolve(graded=True), resolve(graded=False)
    assert graded == AiPolicy()
    for action in ("check", "hint", "explain_code", "explain_error", "ask", "complete"):
        assert graded.refusal(action) is None
    assert graded.refusal("complete", in_solution=True) == (
        "Code completion is off in the solution cells of graded exercises."
    )
    assert ungraded.refusal("complete", in_solution=True) is None
    assert AiPolicy().hint_max_level == HINT_LEVELS


def test_lower_levels_override_higher_ones() -> None:
    course = PolicyLayer(ask=False, hints_after_checks=2)
    lesson = PolicyLayer(ask=True)
    exercise = PolicyLayer(hint_max_level=2, complete_in_solutions=True)
    policy = resolve(course, lesson, exercise, graded=True)
    assert (policy.ask, policy.hints_after_checks, policy.hint_max_level) == (True, 2, 2)
    assert policy.complete_in_solutions
    assert resolve(course, graded=True).refusal("ask") == (
        "Your instructor turned Ask off for this exercise."
    )


def test_hint_unlock_and_level_messages() -> None:
    policy = resolve(PolicyLayer(hints_after_checks=2, hint_max_level=2))
    assert policy.refusal("hint", checks=0) == (
        "Hints unlock after 2 checks: press Check twice more."
    )
    assert policy.refusal("hint", checks=1) == "Hints unlock after 2 checks: press Check once more."
    assert policy.refusal("hint", checks=2, level=2) is None
    assert policy.refusal("hint", checks=5, level=3) == (
        "This exercise gives hints up to level 2 only."
    )
    assert policy.notice(0) == "Hints unlock after 2 checks (2 to go). Hints go up to level 2."
    assert policy.notice(2) == "Hints go up to level 2."


def test_exam_mode_wins_over_every_level_below() -> None:
    course = PolicyLayer(exam=True)
    exercise = PolicyLayer(exam=False, hint=True, ask=True, complete_in_solutions=True)
    policy = resolve(course, None, exercise)
    assert policy.exam and policy.check
    for action in ("hint", "explain_code", "explain_error", "ask", "complete"):
        assert policy.refusal(action) == "AI help is off during the exam. Check still works."
    assert policy.refusal("check") is None
    strict = resolve(PolicyLayer(exam=True, exam_keep_check=False))
    assert strict.refusal("check") == "Check is off during the exam."
    assert strict.refusal("ask") == "AI help is off during the exam."
    assert strict.notice() == "Exam mode: AI help is off."


def test_json_round_trip_and_old_packs() -> None:
    policy = resolve(PolicyLayer(hint=False, hints_after_checks=3))
    assert AiPolicy.from_json(json.loads(json.dumps(policy.to_json()))) == policy
    assert AiPolicy.from_json(None) == AiPolicy()  # lesson.json released before policies
    # Wrong types in a hand-edited lesson.json fall back to the defaults, not to "on".
    assert AiPolicy.from_json({"hint_max_level": "9", "ask": "no"}) == AiPolicy()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"hints": True}, "unknown policy setting 'hints'"),
        ({"ask": "no"}, "policy setting 'ask' must be true or false, not 'no'"),
        (
            {"hint_max_level": 4},
            "policy setting 'hint_max_level' must be a whole number from 1 to 3, not 4",
        ),
        ({"hints_after_checks": True}, "must be a whole number from 0 to 100, not True"),
    ],
)
def test_bad_settings_are_refused(table: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyProblem) as info:
        layer_from_table(table)
    assert problem in info.value.problem


def test_cell_holds_toml_in_a_fence_or_bare() -> None:
    fenced = "## AI help\n```toml\nask = false\nhints_after_checks = 1\n```\n"
    assert layer_from_cell(fenced) == PolicyLayer(ask=False, hints_after_checks=1)
    assert layer_from_cell("exam = true") == PolicyLayer(exam=True)
    with pytest.raises(PolicyProblem, match="text outside the settings block"):
        layer_from_cell("Be nice.\n```toml\nask = false\n```")
    with pytest.raises(PolicyProblem, match="not valid TOML"):
        layer_from_cell("ask = nope")
    with pytest.raises(PolicyProblem, match="not \\[tables\\]"):
        layer_from_cell("[policy]\nask = false")


def test_lesson_and_exercise_cells_reach_lesson_json(
    write_lesson: Callable[..., Path], tmp_path: Path
) -> None:
    folder = write_lesson(
        [
            ("md", "# Doubling"),
            ("md ai-policy", "```toml\nhints_after_checks = 2\n```"),
            PROMPT,
            ("md ai-policy", "ask = false\ncomplete_in_solutions = true"),
            SOLUTION,
            TESTS,
        ]
    )
    (tmp_path / "eduproject.toml").write_text("[policy]\nexplain_code = false\nask = true\n")
    lesson = load_lesson(folder)
    assert lesson.policy == PolicyLayer(hints_after_checks=2)
    assert lesson.exercises[0].policy == PolicyLayer(ask=False, complete_in_solutions=True)
    result = release(folder, tmp_path / "out", tmp_path / "grader")
    learner = json.loads(result.notebook.read_text())
    assert "ai-policy" not in json.dumps(learner)  # settings stay with the instructor
    pack = LessonPack.load(result.pack)
    policy = pack.exercise("double").policy
    assert (policy.ask, policy.explain_code, policy.hints_after_checks) == (False, False, 2)
    assert policy.complete_in_solutions
    assert pack.policy.ask and not pack.policy.explain_code


@pytest.mark.parametrize(
    ("cells", "index", "problem"),
    [
        (
            [
                PROMPT,
                ("md ai-policy", "ask = false"),
                ("md ai-policy", "hint = false"),
                SOLUTION,
                TESTS,
            ],
            2,
            "exercise 'double' already has an ai-policy cell (cell 1)",
        ),
        (
            [PROMPT, ("code ai-policy", "ask = false"), SOLUTION, TESTS],
            1,
            "belongs on a markdown cell",
        ),
        ([PROMPT, ("md ai-policy", "ask = 0"), SOLUTION, TESTS], 1, "must be true or false"),
    ],
)
def test_bad_policy_cells_name_the_cell(
    write_lesson: Callable[..., Path],
    cells: list[tuple[str, str]],
    index: int,
    problem: str,
) -> None:
    folder = write_lesson(cells)
    with pytest.raises(LessonFormatError) as info:
        load_lesson(folder)
    assert info.value.cell == index and problem in info.value.problem


def test_course_table_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EDUPROJECT_CONFIG", "EDUPROJECT_USER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    (tmp_path / "eduproject.toml").write_text("[policy]\nexam = 1\n")
    with pytest.raises(ConfigError) as info:
        course_layer(load_config(tmp_path))
    assert "[policy]: policy setting 'exam' must be true or false, not 1" in info.value.message
    assert str(tmp_path / "eduproject.toml") in info.value.message
    # Read through eduproject.config: the message starts with the file and the table.
    assert info.value.message.startswith(f"{tmp_path / 'eduproject.toml'}: table [policy]: ")
    (tmp_path / "eduproject.toml").write_text("[policy]\nask = false\n")
    assert course_layer(load_config(tmp_path)).ask is False
