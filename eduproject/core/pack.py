"""The learner-side lesson pack (``lesson.json``), as the tutor and ``check`` read it.

Release writes ``notebooks/<lesson>/lesson.json`` next to the learner notebook: prompts,
stubs, visible tests, hints, words to avoid and the leak guard's hashed features -- never
solution text or hidden test code. In the kernel::

    pack = LessonPack.find()                 # lesson.json here or up to 2 folders above
    info = pack.exercise("sum_evens")
    info.hints[0]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.core.lesson import exercise_policy
from eduproject.core.policy import AiPolicy, PolicyLayer, resolve
from eduproject.errors import TutorError

if TYPE_CHECKING:
    from eduproject.core.lesson import Exercise, Lesson

PACK_NAME = "lesson.json"


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
        )

    @classmethod
    def from_exercise(
        cls, exercise: Exercise, *, salt: str = "", policy: AiPolicy | None = None
    ) -> ExerciseInfo:
        """The learner view of an instructor-side exercise (server side: check-hint, demo)."""
        from eduproject.core.fingerprints import guard_data

        return cls(
            id=exercise.id,
            title=exercise.title,
            prompt=exercise.prompt,
            stub=exercise.stub,
            hints=exercise.hints,
            avoid=exercise.avoid,
            visible_tests=tuple(
                VisibleTest(
                    t.name, t.points, t.hidden, t.visible_source, t.cell_id, t.visible_shared
                )
                for t in exercise.tests
            ),
            guard=guard_data(exercise, salt=salt),
            policy=policy or AiPolicy(),
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

    def policy_for(self, exercise_id: str | None) -> AiPolicy:
        """The policy of ``exercise_id`` (unknown ids: TutorError), or the lesson's for None."""
        return self.policy if exercise_id is None else self.exercise(exercise_id).policy

    @classmethod
    def from_lesson(cls, lesson: Lesson, course_policy: PolicyLayer | None = None) -> LessonPack:
        """The pack of an instructor-side lesson, guard data and policies included (server side)."""
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
        )
