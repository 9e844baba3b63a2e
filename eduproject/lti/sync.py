"""``eduproject lti sync``: a lesson's grades from the gradebook into the LMS's gradebook.

For one lesson: find the LMS line item (``resourceId`` = the lesson id, ``tag`` =
``eduproject``) or create it, match each learner to an LMS user (the NRPS class list, or a
roster file), and post one score per learner (``scoreGiven``, ``scoreMaximum``,
``activityProgress``, ``gradingProgress``, a ``comment`` that links to the feedback page).
What was posted is remembered in a small state file, so a rerun posts only what changed;
``dry_run`` asks the LMS (read-only) and says what it would do::

    report = sync_lesson(Path("gradebook.sqlite"), "01-functions", settings, dry_run=True)
    print(report_text(report))
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eduproject.core.results import Status, SubmissionResult
from eduproject.core.storage import open_store
from eduproject.errors import ConfigError, GradebookError, LtiError
from eduproject.lti.platform import Platform
from eduproject.lti.settings import LtiSettings

TAG = "eduproject"
LEARNER_ROLE = "Learner"
# Grades an instructor should look at before they count (tampered or unreadable notebooks).
_REVIEW = {Status.TAMPERED, Status.INVALID}

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS posted (
    lineitem TEXT NOT NULL,
    user_id TEXT NOT NULL,
    learner TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    posted_at REAL NOT NULL,
    PRIMARY KEY (lineitem, user_id)
);
"""


@dataclass(frozen=True)
class ScorePost:
    learner: str
    user_id: str
    score: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """What makes two posts the same grade (the timestamp does not)."""
        kept = {k: v for k, v in self.score.items() if k != "timestamp"}
        return json.dumps(kept, sort_keys=True)


@dataclass
class SyncReport:
    lesson: str
    lineitem: str | None  # None: not created yet (dry run)
    created: bool = False
    posted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    dry_run: bool = False


def feedback_link(template: str | None, lesson: str, learner: str) -> str | None:
    """The learner's feedback page (``eduproject feedback`` names files the same way)."""
    if not template:
        return None
    from eduproject.grading.export import file_stem

    return template.format(
        lesson=quote(file_stem(lesson), safe=""), learner=quote(file_stem(learner), safe="")
    )


def score_for(
    result: SubmissionResult, user_id: str, maximum: float, link: str | None, now: str
) -> dict[str, Any]:
    """The AGS score of one graded submission."""
    given = round(result.score, 4)
    words = f"Score {given:g} of {maximum:g}."
    if result.status in _REVIEW:
        words += f" Your instructor will look at this submission ({result.status.value})."
    if link:
        words += f" Feedback: {link}"
    return {
        "userId": user_id,
        "scoreGiven": given,
        "scoreMaximum": maximum,
        "comment": words,
        "timestamp": now,
        "activityProgress": "Completed",
        "gradingProgress": "PendingManual" if result.status in _REVIEW else "FullyGraded",
    }


def read_roster(path: Path) -> dict[str, str]:
    """``learner -> LMS user id`` from a CSV with columns ``learner`` and ``lti_user_id``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the LTI roster {path}: {exc}", hint="a UTF-8 CSV file"
        ) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = {c.strip().lower() for c in (rows[0].keys() if rows else [])}
    if not {"learner", "lti_user_id"} <= columns:
        raise ConfigError(
            f"{path}: the roster needs the columns learner and lti_user_id",
            hint="one line per learner: the gradebook's learner id and the LMS user id",
        )
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        clean = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        learner, user = clean["learner"], clean["lti_user_id"]
        if not learner or not user:
            raise ConfigError(
                f"{path}, row {number}: an empty learner or lti_user_id", hint="fill it in"
            )
        if learner in mapping:
            raise ConfigError(
                f"{path}, row {number}: learner {learner!r} appears twice", hint="keep one"
            )
        mapping[learner] = user
    return mapping


def match_members(
    members: Iterable[Mapping[str, Any]], learners: Iterable[str], field_name: str, local: bool
) -> dict[str, str]:
    """``learner -> LMS user id`` for the active learners of the class list whose
    ``field_name`` (before the @ with ``local``) equals a learner id, ignoring case."""

    def key(value: str) -> str:
        value = value.strip().lower()
        return value.split("@", 1)[0] if local else value

    by_key: dict[str, list[str]] = {}
    for member in members:
        roles = member.get("roles") or []
        if member.get("status", "Active") != "Active":
            continue
        if not any(str(r).rsplit("#", 1)[-1] == LEARNER_ROLE for r in roles):
            continue
        value, user = member.get(field_name), member.get("user_id")
        if isinstance(value, str) and value and isinstance(user, str):
            by_key.setdefault(key(value), []).append(user)
    mapping: dict[str, str] = {}
    for learner in learners:
        users = by_key.get(key(learner), [])
        if len(users) > 1:
            raise LtiError(
                f"learner {learner!r} matches {len(users)} LMS users by {field_name!r}",
                hint="match on another field ([lti] match) or use a roster file ([lti] roster)",
            )
        if users:
            mapping[learner] = users[0]
    return mapping


def _results(db: Path, lesson: str) -> list[SubmissionResult]:
    from eduproject.grading.gradebook import Gradebook

    with Gradebook(db, create=False) as book:
        results = list(book.results(lesson))
        lessons = book.lessons()
    if not results:
        raise GradebookError(
            db,
            f"no graded submissions of lesson {lesson!r}",
            hint=f"lessons in this gradebook: {', '.join(lessons) or 'none'}",
        )
    return results


def sync_lesson(
    db: Path,
    lesson: str,
    settings: LtiSettings,
    *,
    platform: Platform,
    dry_run: bool = False,
    force: bool = False,
    label: str | None = None,
    now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
) -> SyncReport:
    """Post the lesson's changed scores to the LMS (see the module docstring)."""
    results = _results(db, lesson)
    maximum = max(r.max_score for r in results)
    if maximum <= 0:
        raise LtiError(
            f"lesson {lesson!r} has no points to pass back (its maximum score is 0)",
            hint="give its tests points (docs/format.md)",
        )
    learners = [r.learner for r in results]
    if settings.roster is not None:
        mapping = read_roster(settings.roster)
    else:
        mapping = match_members(
            platform.members(), learners, settings.match, settings.match_local_part
        )

    items = [
        item
        for item in platform.line_items(resource_id=lesson, tag=TAG)
        if isinstance(item, dict) and item.get("resourceId") == lesson and item.get("tag") == TAG
    ]
    report = SyncReport(lesson, items[0]["id"] if items else None, dry_run=dry_run)
    if not items and not dry_run:
        created = platform.create_line_item(
            {"label": label or lesson, "scoreMaximum": maximum, "resourceId": lesson, "tag": TAG}
        )
        report.lineitem, report.created = created["id"], True

    stamp = now().isoformat(timespec="milliseconds")
    posts = []
    for result in results:
        user = mapping.get(result.learner)
        if user is None:
            report.unmatched.append(result.learner)
            continue
        link = feedback_link(settings.feedback_url, lesson, result.learner)
        posts.append(ScorePost(result.learner, user, score_for(result, user, maximum, link, stamp)))

    state = open_store(
        settings.state or db.with_name(db.stem + "-lti.sqlite"),
        _STATE_SCHEMA,
        hint="set [lti] state to a writable file",
    )
    try:
        for post in posts:
            if report.lineitem is not None and not force:
                row = state.execute(
                    "SELECT fingerprint FROM posted WHERE lineitem = ? AND user_id = ?",
                    (report.lineitem, post.user_id),
                ).fetchone()
                if row is not None and row[0] == post.fingerprint:
                    report.unchanged.append(post.learner)
                    continue
            if not dry_run:
                assert report.lineitem is not None
                platform.post_score(report.lineitem, post.score)
                state.execute(
                    "INSERT INTO posted (lineitem, user_id, learner, fingerprint, posted_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (lineitem, user_id) DO UPDATE SET "
                    "learner = excluded.learner, fingerprint = excluded.fingerprint, "
                    "posted_at = excluded.posted_at",
                    (
                        report.lineitem,
                        post.user_id,
                        post.learner,
                        post.fingerprint,
                        now().timestamp(),
                    ),
                )
            report.posted.append(post.learner)
    finally:
        state.close()
    return report


def report_text(report: SyncReport) -> str:
    verb = "would post" if report.dry_run else "posted"
    if report.lineitem is None:
        item = f"would create the line item for {report.lesson}"
    elif report.created:
        item = f"created the line item {report.lineitem}"
    else:
        item = f"line item {report.lineitem}"
    lines = [
        f"{report.lesson}: {item}",
        f"  {verb} {len(report.posted)} scores, {len(report.unchanged)} unchanged",
    ]
    if report.unmatched:
        lines.append(
            f"  {len(report.unmatched)} learners have no LMS user and were skipped: "
            + ", ".join(report.unmatched)
        )
        lines.append("  -> check [lti] match / match_local_part, or list them in [lti] roster")
    return "\n".join(lines)
