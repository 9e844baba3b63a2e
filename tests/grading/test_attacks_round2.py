"""Security round 2 (issue 11), the classes that meet the grading runner: resource
amplification in the grader, names a test takes from the learner, hidden test inputs reaching
feedback, and import races between submissions. Each test grades real hostile submissions in
the sandbox; each failed before the judge process existed."""

from __future__ import annotations

from pathlib import Path

from eduproject.core.lesson import Lesson
from eduproject.core.results import Status
from eduproject.runner.engine import Engine
from eduproject.runner.executors import GradeJob, LocalPool
from eduproject.runner.sandbox import Limits, Zygote

from .grading_support import (
    BASIC_ANSWERS,
    Listener,
    WriteLesson,
    all_text,
    bundle_lesson,
    grade,
    scores,
    submission,
)

# -- 2. grader-side resource amplification ----------------------------------------------------

AMPLIFY = {
    # a lazy value that a careless grader would materialise
    "range": "def double(x):\n    return range(50_000_000)\ndef words(text):\n    return range(10**12)\n",
    # an iterator of 30 MB strings: the test lists it
    "iterator": "def double(x):\n    return 0\n"
    "def words(text):\n    return iter(['x' * 30_000_000 for _ in range(40)])\n",
    # a 48 MB bytes value in a failure message
    "bytes": "def double(x):\n    return b'y' * 48_000_000\ndef words(text):\n    return []\n",
}


def test_learner_values_cannot_blow_up_the_grader(basic_lesson: Lesson, zygote: Zygote) -> None:
    for name, code in AMPLIFY.items():
        result = grade(
            basic_lesson, zygote, submission(basic_lesson, {"double": code, "words": ""})
        )
        assert result.score == 0.0, name
        for e in result.exercises:
            for t in e.tests:
                assert len(t.message) <= 2000, (name, t.name, len(t.message))
    after = grade(basic_lesson, zygote, submission(basic_lesson, BASIC_ANSWERS))
    assert after.score == 6.0  # the grader is fine


def test_a_forged_array_header_is_refused_before_it_is_allocated() -> None:
    import numpy as np
    import pytest

    from eduproject.runner.wire import Codec, Protocol

    codec = Codec(None, None)
    for header in (["<U100000000", [1], ["x"]], ["<i8", [10**9, 10**9], [1]]):
        with pytest.raises(Protocol):
            codec.decode({"$ndarray": header})
    assert codec.decode({"$ndarray": ["<i8", [2], [1, 2]]}).tolist() == [1, 2]
    assert np.dtype("<U100000000").itemsize > 10**8  # what a naive decoder would allocate


# -- 4. names a test takes from the learner ----------------------------------------------------

SETUP_NAMES = [
    (
        "code setup",
        "import math\nimport numpy as np\nfrom numpy.testing import assert_allclose\n"
        "def close_enough(a, b):\n    return abs(a - b) < 1e-9",
    ),
    ("md exercise=root", "# Root"),
    (
        "code solution",
        "def root(x):\n    ### BEGIN SOLUTION\n    return math.sqrt(x)\n    ### END SOLUTION",
    ),
    (
        "code hidden-tests points=4",
        "assert math.isclose(root(2), 1.4142135623730951)\n"
        "assert_allclose(root(9), 3.0)\nassert close_enough(root(16), 4.0)\n"
        "assert np.isclose(root(25), 5.0)",
    ),
]
REBIND = (
    "import types\n"
    "math = types.SimpleNamespace(isclose=lambda *a, **k: True, sqrt=lambda x: 0)\n"
    "assert_allclose = lambda *a, **k: None\n"
    "close_enough = lambda a, b: True\n"
    "np = types.SimpleNamespace(isclose=lambda *a, **k: True)\n"
    "def root(x):\n    return 0\n"
)


def test_names_of_setup_imports_and_helpers_mean_the_instructors_objects(
    write_lesson: WriteLesson, zygote: Zygote, tmp_path: Path
) -> None:
    lesson = bundle_lesson(write_lesson(SETUP_NAMES, "names"), tmp_path / "grader")
    honest = grade(
        lesson,
        zygote,
        submission(lesson, {"root": "import math\ndef root(x):\n    return math.sqrt(x)"}),
    )
    assert scores(honest) == {"root": 4.0}
    cheat = grade(lesson, zygote, submission(lesson, {"root": REBIND}))
    assert scores(cheat) == {"root": 0.0}


# -- 6. hidden test inputs reaching feedback ---------------------------------------------------

LOGGER = (
    "import os, glob\n"
    "def double(x):\n"
    "    open(f'/tmp/seen-{x}', 'w').close()\n"
    "    seen = sorted(os.path.basename(p) for p in glob.glob('/tmp/seen-*'))\n"
    "    raise ValueError(f'seen so far: {seen}')\n"
    "def words(text):\n"
    "    open('/tmp/words-' + text.replace(' ', '_'), 'w').close()\n"
    "    raise ValueError('seen so far: ' + str(sorted(glob.glob('/tmp/words-*'))))\n"
)


def test_hidden_inputs_never_reach_a_learner_visible_message(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    result = grade(basic_lesson, zygote, submission(basic_lesson, {"double": LOGGER, "words": ""}))
    text = all_text(result)
    assert "seen-2" in text  # the visible input, in the visible test's message
    assert "seen-21" not in text and "x__y_z" not in text and "HIDDEN" not in text
    assert result.score == 0.0


# -- 7. import races between submissions ---------------------------------------------------------

NUMPY_BACK = "def double(x):\n    import numpy as np\n    return np.int64(2 * x)\n"


def test_two_workers_decoding_numpy_at_once_grade_honest_learners_right(
    basic_lesson: Lesson,
) -> None:
    data = submission(basic_lesson, dict(BASIC_ANSWERS, double=NUMPY_BACK))
    jobs = [GradeJob(f"l{i}", f"l{i}.ipynb", None, data) for i in range(8)]
    with LocalPool(basic_lesson, {}, Limits(cell_timeout=10, timeout=60), workers=2) as pool:
        results = list(pool.map(jobs))
    assert [getattr(r, "score", r) for r in results] == [6.0] * 8
    assert all(getattr(r, "status", None) == Status.GRADED for r in results)
    assert Engine  # the engine behind the pool decodes in per-submission judge processes


# -- the judge itself runs sandboxed -----------------------------------------------------------


def test_the_judge_runs_in_a_sandbox_of_its_own(
    write_lesson: WriteLesson, zygote: Zygote, tmp_path: Path
) -> None:
    """Test code runs in the judge: what it can reach is what an exploit of the judge could."""
    secret = tmp_path / "gradebook-secret.txt"
    secret.write_text("SECRET")
    listener = Listener()
    probe = (
        "import io, socket, sys\n"
        "judge_os = sys.modules['os']\n"
        "assert judge_os.getuid() != 0 and judge_os.geteuid() != 0\n"
        "assert 'OPENAI_API_KEY' not in judge_os.environ\n"
        f"assert not judge_os.path.exists({str(secret)!r})\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=2)\n"
        "    reached = True\n"
        "except OSError:\n"
        "    reached = False\n"
        "assert not reached\n"
    )
    cells = [
        ("md exercise=x", "# X"),
        ("code solution", "def x():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        ("code tests", probe + "assert x() == 1"),
    ]
    lesson = bundle_lesson(write_lesson(cells, "judge"), tmp_path / "grader")
    import os

    os.environ["OPENAI_API_KEY"] = "sk-grader-secret"
    try:
        result = grade(lesson, zygote, submission(lesson, {"x": "def x():\n    return 1"}))
    finally:
        del os.environ["OPENAI_API_KEY"]
    listener.close()
    assert result.score == 1.0, [t.message for e in result.exercises for t in e.tests]
    assert listener.connections == []
