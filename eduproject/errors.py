"""The one exception hierarchy of eduproject.

Every error carries structured fields and a message that says what to do next.
The CLI maps each family to an exit code (see ``EXIT_CODES``) and prints only
``str(error)`` -- never a traceback -- for these errors.

    EduprojectError
    +-- ConfigError                 bad eduproject.toml / environment / CLI option
    +-- LessonError                 a lesson cannot be read, released or validated
    |   +-- LessonFormatError       source notebook breaks the exercise format (file, cell)
    |   +-- ImportConversionError   nbgrader/otter source cannot be converted
    |   +-- LessonValidationError   solutions fail their tests, or stubs pass them
    +-- BundleError                 grader bundle missing, stale or tampered with
    +-- SubmissionError             one submission is unreadable (recorded, never fatal)
    +-- LearnerIdError              a learner id hides characters or looks like another
    +-- SandboxError                the sandbox cannot be set up
    +-- GradebookError              the gradebook cannot be opened, read or written
    +-- ModelError                  model access failed
    |   +-- RouteError              one attempt on one route failed (kind: RouteErrorKind)
    |   +-- AllRoutesFailed         every route of a task failed
    +-- TutorError
    |   +-- QuotaExceeded           the learner's allowance is used up
    |   +-- PolicyRefused           the course's AI policy turns this action off here (now)
    +-- GatewayError                tutor gateway refused or failed a request
    +-- CollectError                submissions cannot be collected from the homes
    +-- LtiError                    the LMS (LTI 1.3 platform) refused or failed a request
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class EduprojectError(Exception):
    """Base class. ``hint`` says what to do next; it is appended to the message."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  -> {self.hint}"
        return self.message


class ConfigError(EduprojectError):
    exit_code = 2


class LessonError(EduprojectError):
    exit_code = 1


class LessonFormatError(LessonError):
    """A source notebook breaks the exercise format.

    The message always names the file, the cell index (0-based, as JupyterLab's
    cell list counts) with ``cell_label`` -- the cell's first line or its id, since
    JupyterLab shows no cell numbers -- and what to change.
    """

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        cell: int | None = None,
        fix: str | None = None,
        cell_label: str = "",
    ) -> None:
        self.path = Path(path)
        self.cell = cell
        self.cell_label = cell_label
        self.problem = problem
        where = f"{self.path}" if cell is None else f"{self.path}, cell {cell}"
        if cell is not None and cell_label:
            where += f" ({cell_label})"
        super().__init__(f"{where}: {problem}", hint=fix)


class ImportConversionError(LessonError):
    pass


class LessonValidationError(LessonError):
    pass


class BundleError(EduprojectError):
    pass


class SubmissionError(EduprojectError):
    pass


class LearnerIdError(EduprojectError):
    """A learner id that could be mistaken for another (see ``eduproject.core.learner_ids``).

    ``raw`` is the id as given, ``shown`` the same with every character outside printable
    ASCII written as ``<U+XXXX>``, ``problem`` what is wrong with it.
    """

    def __init__(self, raw: str, shown: str, problem: str, *, hint: str | None = None) -> None:
        self.raw = raw
        self.shown = shown
        self.problem = problem
        super().__init__(
            f"learner id {shown!r} {problem}",
            hint=hint or "rename it to the learner's user name as it displays, in plain letters",
        )


class SandboxError(EduprojectError):
    pass


class GradebookError(EduprojectError):
    """The gradebook (SQLite) cannot be opened, read or written; ``path`` names the file."""

    def __init__(self, path: Path | str, message: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}", hint=hint)


class ModelError(EduprojectError):
    pass


class RouteErrorKind(StrEnum):
    """How one attempt on one route failed (a string: ``kind == "http"`` holds)."""

    CONNECT = "connect"
    TIMEOUT = "timeout"  # not finished within timeouts.total
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    HTTP = "http"  # an error status or an error the server sent
    RATE_LIMITED = "rate_limited"  # 429, or a server that says it is overloaded
    MALFORMED = "malformed"  # an answer that fails the output checks
    STREAM_BROKEN = "stream_broken"
    UNAVAILABLE = "unavailable"  # no key, no model file, cooling down
    CANCELLED = "cancelled"  # the caller stopped reading


class RouteError(ModelError):
    """One attempt on one route failed; ``kind`` (:class:`RouteErrorKind`) says how.

    A string naming a kind is accepted (a plugin's provider may write ``"http"``); any
    other string is a ValueError.
    """

    def __init__(
        self,
        route: str,
        kind: RouteErrorKind | str,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.route = route
        self.kind = RouteErrorKind(kind)
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(f"route {route!r}: {self.kind}: {message}", hint=hint)


class AllRoutesFailed(ModelError):
    def __init__(self, task: str, errors: list[RouteError]) -> None:
        self.task = task
        self.errors = errors
        detail = "; ".join(str(e).splitlines()[0] for e in errors) or "no route configured"
        super().__init__(
            f"every route for task {task!r} failed: {detail}",
            hint="check the routes with `eduproject routes check`",
        )


class TutorError(EduprojectError):
    pass


class QuotaExceeded(TutorError):
    def __init__(self, message: str, *, retry_in_s: float | None = None) -> None:
        self.retry_in_s = retry_in_s
        super().__init__(message)


class PolicyRefused(TutorError):
    """The course's AI policy does not allow ``action`` here (see eduproject.core.policy).

    The message is the learner-facing reason ("Hints unlock after 2 checks: ...").
    """

    def __init__(self, message: str, *, action: str) -> None:
        self.action = action
        super().__init__(message)


class GatewayError(EduprojectError):
    pass


class CollectError(EduprojectError):
    pass


class LtiError(EduprojectError):
    """The LMS refused or failed a request; ``status`` is its HTTP status (None: no answer)."""

    def __init__(
        self, message: str, *, status: int | None = None, url: str = "", hint: str | None = None
    ) -> None:
        self.status = status
        self.url = url
        super().__init__(message, hint=hint)
