"""The learner-side lesson pack (``lesson.json``): its one writer and its one reader.

Release writes ``notebooks/<lesson>/lesson.json`` next to the learner notebook: prompts,
stubs, visible tests, hints, the words to avoid that are safe to show and the leak guard's
hashed features -- never solution text or hidden test code. The gateway, the benchmark and
``tutor check-hint`` build the same pack in memory from the instructor's lesson
(:meth:`LessonPack.from_lesson`), so a tutor behaves alike wherever it runs. In the kernel::

    pack = LessonPack.find()                 # lesson.json here or up to 2 folders above
    info = pack.exercise("sum_evens")
    info.hints[0]

    pack.to_json()                           # what release writes (LessonPack.from_lesson(lesson))
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.core.lesson import FORMAT_VERSION, exercise_policy
from eduproject.core.policy import AiPolicy, PolicyLayer, resolve
from eduproject.errors import TutorError

if TYPE_CHECKING:
    from eduproject.core.lesson import Exercise, Lesson

PACK_NAME = "lesson.json"
# Words to avoid that may be read in lesson.json: plain words, never code.
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9_ -]+")


@dataclass(frozen=True)
class VisibleTest:
    """A test as the learner sees it: ``visible_source`` is "" when wholly hidden."""

    name: str
    points: float
    hidden: bool
    visible_source: str
    cell: str = ""  # the test cell it stands in (tests of one cell share their first lines)
    shared: int = 0  # the first lines of visible_source that are the cell's shared code

    @property
    def prelude(self) -> str:
        return "\n".join(self.visible_source.split("\n")[: self.shared])

    @property
    def body(self) -> str:
        return "\n".join(self.visible_source.split("\n")[self.shared :])


@dataclass(frozen=True)
class ExerciseInfo:
    """One exercise of the pack (no solution, no hidden test code)."""

    id: str
    title: str
    prompt: str
    stub: str
    hints: tuple[str, ...]
    avoid: tuple[str, ...]
    visible_tests: tuple[VisibleTest, ...]
    guard: dict[str, Any] = field(default_factory=dict, compare=False)
    # The AI policy in force for this exercise (all on in packs released before policies).
    policy: AiPolicy = field(default_factory=AiPolicy)
    all_or_nothing: bool = False
    # Points given by hand (its model answer and rubric stay in the grader bundle).
    manual: bool = False
    max_score: float = 0.0

    @property
    def tests(self) -> tuple[VisibleTest, ...]:
        """The same as ``visible_tests`` (the name ``check`` reads)."""
        return self.visible_tests

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExerciseInfo:
        tests = data.get("tests", data.get("visible_tests", []))
        return cls(
            id=str(data["id"]),
            title=str(data.get("title", data["id"])),
            prompt=str(data.get("prompt", "")),
            stub=str(data.get("stub", "")),
            hints=tuple(str(h) for h in data.get("hints", [])),
            avoid=tuple(str(a) for a in data.get("avoid", [])),
            visible_tests=tuple(
                VisibleTest(
                    name=str(t["name"]),
                    points=float(t.get("points", 1)),
                    hidden=bool(t.get("hidden", False)),
                    visible_source=str(t.get("visible_source", "")),
                    cell=str(t.get("cell", "")),
                    shared=int(t.get("shared", 0)),
                )
                for t in tests
            ),
            guard=dict(data.get("guard") or {}),
            policy=AiPolicy.from_json(data.get("policy")),
            all_or_nothing=bool(data.get("all_or_nothing", False)),
            manual=bool(data.get("manual", False)),
            max_score=float(data.get("max_score", 0.0)),
        )

    def to_json(self) -> dict[str, Any]:
        manual = {"manual": True, "max_score": self.max_score} if self.manual else {}
        return {
            **manual,
            "id": self.id,
            "title": self.title,
            "prompt": self.prompt,
            "stub": self.stub,
            "hints": list(self.hints),
            "avoid": list(self.avoid),
            "all_or_nothing": self.all_or_nothing,
            "tests": [
                {
                    "name": t.name,
                    "points": t.points,
                    "hidden": t.hidden,
                    "visible_source": t.visible_source,
                    "cell": t.cell,
                    "shared": t.shared,
                }
                for t in self.visible_tests
            ],
            "guard": self.guard,
            "policy": self.policy.to_json(),
        }

    @classmethod
    def from_exercise(
        cls, exercise: Exercise, *, salt: str = "", policy: AiPolicy | None = None
    ) -> ExerciseInfo:
        """The learner view of an instructor-side exercise: what release writes for it."""
        from eduproject.core.fingerprints import guard_data

        return cls(
            id=exercise.id,
            title=exercise.title,
            prompt=exercise.prompt,
            stub=exercise.stub,
            hints=exercise.hints,
            avoid=public_avoid(exercise),
            visible_tests=tuple(
                VisibleTest(
                    t.name, t.points, t.hidden, t.visible_source, t.cell_id, t.visible_shared
                )
                for t in exercise.tests
            ),
            guard=guard_data(exercise, salt=salt),
            policy=policy or AiPolicy(),
            all_or_nothing=exercise.all_or_nothing,
            manual=exercise.manual,
            max_score=exercise.max_score,
        )


def public_avoid(exercise: Exercise) -> tuple[str, ...]:
    """The words to avoid that may sit in plain text on the learner's disk.

    A phrase taken from the solution or a hidden test (``total += n``) would give the answer
    away to anyone opening ``lesson.json``, and so may any phrase that looks like code
    (``range(2, n + 1)``): those reach the tutor only hashed, in the guard data.
    """
    secret = "\n".join([exercise.solution, *(t.source for t in exercise.tests if t.hidden)])
    return tuple(
        word
        for word in exercise.avoid
        if word not in secret and _PLAIN_WORDS.fullmatch(word.strip())
    )


@dataclass(frozen=True)
class LessonPack:
    """A released lesson as the learner's kernel knows it.

    ``policy`` is the AI policy for cells outside the exercises (each exercise has its own).
    """

    lesson: str
    title: str
    version: str
    exercises: tuple[ExerciseInfo, ...]
    policy: AiPolicy = field(default_factory=AiPolicy)
    # Files released beside the notebook (relative paths), as the lesson lists them.
    files: tuple[str, ...] = ()

    def exercise(self, exercise_id: str) -> ExerciseInfo:
        """The exercise ``exercise_id``; a TutorError listing the known ids otherwise."""
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        known = ", ".join(e.id for e in self.exercises) or "none"
        raise TutorError(
            f"lesson {self.lesson!r} has no exercise {exercise_id!r} (it has: {known})",
            hint="use one of those ids, as written in the exercise's heading cell",
        )

    @classmethod
    def load(cls, path: Path = Path(PACK_NAME)) -> LessonPack:
        """Read a ``lesson.json``; every problem is a TutorError naming the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TutorError(
                f"{path}: lesson pack not found",
                hint="open the notebook from the folder `eduproject release` wrote",
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TutorError(
                f"{path}: cannot read the lesson pack ({exc})",
                hint="release the lesson again with `eduproject release exercises/<lesson>`",
            ) from None
        try:
            return cls(
                lesson=str(data["lesson"]),
                title=str(data.get("title", data["lesson"])),
                version=str(data.get("version", "")),
                exercises=tuple(ExerciseInfo.from_json(e) for e in data.get("exercises", [])),
                policy=AiPolicy.from_json(data.get("policy")),
                files=tuple(str(f) for f in data.get("files", [])),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TutorError(
                f"{path}: the lesson pack is malformed (missing or wrong field: {exc})",
                hint="release the lesson again with `eduproject release exercises/<lesson>`",
            ) from None

    @classmethod
    def find(cls, start: Path | None = None) -> LessonPack:
        """Load ``lesson.json`` from ``start`` (default: the working folder) or up to two parents."""
        here = Path.cwd() if start is None else Path(start)
        here = here.resolve()
        candidates = [here, *list(here.parents)[:2]]
        for folder in candidates:
            if (folder / PACK_NAME).is_file():
                return cls.load(folder / PACK_NAME)
        raise TutorError(
            f"no {PACK_NAME} found in {here} or the two folders above it",
            hint="open the learner notebook from the folder `eduproject release` wrote "
            "(it holds lesson.json)",
        )

    def to_json(self) -> dict[str, Any]:
        """The ``lesson.json`` document (release writes it with sorted keys)."""
        return {
            "format": FORMAT_VERSION,
            "lesson": self.lesson,
            "title": self.title,
            "version": self.version,
            "files": list(self.files),
            "policy": self.policy.to_json(),
            "exercises": [e.to_json() for e in self.exercises],
        }

    def policy_for(self, exercise_id: str | None) -> AiPolicy:
        """The policy of ``exercise_id`` (unknown ids: TutorError), or the lesson's for None."""
        return self.policy if exercise_id is None else self.exercise(exercise_id).policy

    @classmethod
    def from_lesson(cls, lesson: Lesson, course_policy: PolicyLayer | None = None) -> LessonPack:
        """The pack of an instructor-side lesson, guard data and policies included: what
        release writes to ``lesson.json`` (and what the gateway serves from)."""
        course = course_policy or PolicyLayer()
        return cls(
            lesson=lesson.id,
            title=lesson.title,
            version=lesson.version,
            exercises=tuple(
                ExerciseInfo.from_exercise(
                    e, salt=lesson.version, policy=exercise_policy(lesson, e, course)
                )
                for e in lesson.exercises
            ),
            policy=resolve(course, lesson.policy, graded=False),
            files=tuple(rel.as_posix() for rel in lesson.data_files),
        )
