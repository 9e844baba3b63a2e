"""LTI 1.3 grade passback against a local platform over real loopback HTTP
(``platform_sim.py``): the keys, the signed token request, line items, scores, the class
list, idempotent reruns, dry runs, and a clear error for each way the platform can say no."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.results import ExerciseResult, Status, SubmissionResult
from eduproject.errors import ConfigError, LtiError
from eduproject.grading.gradebook import Gradebook
from eduproject.lti.keys import load_signing_key, make_keys, thumbprint
from eduproject.lti.platform import Platform as Client
from eduproject.lti.settings import LtiSettings
from eduproject.lti.sync import sync_lesson

from .platform_sim import INSTRUCTOR, LEARNER, Platform, running_platform

LESSON = "01-functions"
CLIENT_ID = "10000000000042"
MEMBERS = [
    {"user_id": "u-ada", "email": "Ada@school.edu", "roles": [LEARNER], "status": "Active"},
    {"user_id": "u-bob", "email": "bob@school.edu", "roles": [LEARNER], "status": "Active"},
    {"user_id": "u-cy", "email": "cy@school.edu", "roles": [LEARNER], "status": "Active"},
    {"user_id": "u-gone", "email": "dee@school.edu", "roles": [LEARNER], "status": "Inactive"},
    {"user_id": "u-teach", "email": "teach@school.edu", "roles": [INSTRUCTOR]},
]


def result(learner: str, score: float, status: Status = Status.GRADED) -> SubmissionResult:
    return SubmissionResult(
        learner=learner,
        lesson=LESSON,
        lesson_version="v1",
        path=f"{learner}.ipynb",
        submission_hash=f"{learner}-{score}",
        exercises=(
            ExerciseResult("double", score=min(score, 2.0), max_score=2.0, status=status),
            ExerciseResult(
                "greet", score=max(0.0, score - 2.0), max_score=1.0, status=Status.GRADED
            ),
        ),
        status=status,
    )


def record(db: Path, *results: SubmissionResult) -> None:
    with Gradebook(db) as book:
        run = book.start_run(LESSON, "v1", {})
        for r in results:
            book.record(r, run)
        book.finish_run(run)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    make_keys(folder)
    return folder


@pytest.fixture
def gradebook(tmp_path: Path) -> Path:
    db = tmp_path / "gradebook.sqlite"
    record(db, result("ada", 3.0), result("bob", 1.5), result("dee", 2.0, Status.TAMPERED))
    return db


@pytest.fixture
def lms(keys: Path) -> Iterator[Platform]:
    jwks = json.loads((keys / "jwks.json").read_text())
    with running_platform(client_id=CLIENT_ID, tool_jwks=jwks, members=list(MEMBERS)) as platform:
        yield platform


def settings_for(lms: Platform, keys: Path, tmp_path: Path, **extra: Any) -> LtiSettings:
    table = {
        "client_id": CLIENT_ID,
        "token_url": lms.token_url,
        "lineitems": lms.lineitems_url,
        "memberships": lms.memberships_url,
        "key": str(keys / "private.pem"),
        "match": "email",
        "match_local_part": True,
        "feedback_url": "https://course.example.edu/feedback/{lesson}/{learner}.html",
        "state": str(tmp_path / "lti-state.sqlite"),
        **extra,
    }
    return LtiSettings.from_table(table, tmp_path)


def sync(settings: LtiSettings, db: Path, **options: Any) -> Any:
    with Client(settings, load_signing_key(settings.key), sleep=lambda s: None) as client:
        return sync_lesson(db, LESSON, settings, platform=client, **options)


def test_keys_are_a_registrable_pair(tmp_path: Path) -> None:
    key = make_keys(tmp_path / "k")
    assert stat.S_IMODE((tmp_path / "k" / "private.pem").stat().st_mode) == 0o600
    jwks = json.loads((tmp_path / "k" / "jwks.json").read_text())
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert "d" not in jwk and jwk["kid"] == thumbprint(jwk) == key.kid
    assert b"BEGIN PUBLIC KEY" in (tmp_path / "k" / "public.pem").read_bytes()
    assert load_signing_key(tmp_path / "k" / "private.pem").jwk == jwk
    assert "PRIVATE" not in repr(key)
    with pytest.raises(ConfigError, match="already exists"):
        make_keys(tmp_path / "k")


def test_sync_posts_scores_then_only_changes(
    lms: Platform, keys: Path, gradebook: Path, tmp_path: Path
) -> None:
    settings = settings_for(lms, keys, tmp_path)
    report = sync(settings, gradebook)
    # The line item was created for the lesson, then one score per matched learner.
    (item,) = lms.line_items.values()
    assert item["resourceId"] == LESSON and item["tag"] == "eduproject"
    assert item["scoreMaximum"] == 3.0 and item["label"] == LESSON
    assert report.created and report.lineitem == item["id"]
    assert sorted(report.posted) == ["ada", "bob"] and report.unmatched == ["dee"]
    scores = lms.scores["1"]
    assert set(scores) == {"u-ada", "u-bob"}  # dee is inactive in the course: not matched
    ada = scores["u-ada"]
    assert (ada["scoreGiven"], ada["scoreMaximum"]) == (3.0, 3.0)
    assert ada["activityProgress"] == "Completed" and ada["gradingProgress"] == "FullyGraded"
    assert "https://course.example.edu/feedback/01-functions/ada.html" in ada["comment"]
    assert ada["timestamp"].endswith("+00:00")

    # A rerun with nothing new posts nothing.
    again = sync(settings, gradebook)
    assert again.posted == [] and sorted(again.unchanged) == ["ada", "bob"]
    assert lms.posts("/scores") == 2 and lms.posts("/line_items") == 2 + 1  # + the creation

    # A regrade changes bob's score: only bob's is posted, on the same line item.
    record(gradebook, result("bob", 2.5))
    third = sync(settings, gradebook)
    assert third.posted == ["bob"] and not third.created and len(lms.line_items) == 1
    assert lms.scores["1"]["u-bob"]["scoreGiven"] == 2.5
    assert sync(settings, gradebook, force=True).posted == ["ada", "bob"]


def test_dry_run_changes_nothing(
    lms: Platform, keys: Path, gradebook: Path, tmp_path: Path
) -> None:
    settings = settings_for(lms, keys, tmp_path)
    report = sync(settings, gradebook, dry_run=True)
    assert report.dry_run and report.lineitem is None and sorted(report.posted) == ["ada", "bob"]
    assert lms.line_items == {} and lms.posts("/scores") == 0
    sync(settings, gradebook)
    record(gradebook, result("ada", 2.0))
    preview = sync(settings, gradebook, dry_run=True)
    assert preview.posted == ["ada"] and lms.scores["1"]["u-ada"]["scoreGiven"] == 3.0


def test_roster_file_and_moodle_style_urls(keys: Path, gradebook: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("learner,lti_user_id\nada,u-ada\ndee,u-cy\n", encoding="utf-8")
    jwks = json.loads((keys / "jwks.json").read_text())
    with running_platform(
        client_id=CLIENT_ID, tool_jwks=jwks, members=list(MEMBERS), moodle_urls=True
    ) as lms:
        settings = settings_for(lms, keys, tmp_path, roster=str(roster))
        report = sync(settings, gradebook)
        assert report.lineitem is not None and report.lineitem.endswith("/1/lineitem?type_id=3")
        assert sorted(report.posted) == ["ada", "dee"] and report.unmatched == ["bob"]
        dee = lms.scores["1"]["u-cy"]
        # A tampered notebook: sent for the instructor to look at, not as a final grade.
        assert dee["gradingProgress"] == "PendingManual" and "tampered" in dee["comment"]
        assert not any("names_and_roles" in path for _, path in lms.requests)  # no NRPS needed


def test_the_cli(lms: Platform, keys: Path, gradebook: Path, tmp_path: Path, capsys: Any) -> None:
    from eduproject.cli import main

    course = tmp_path / "course"
    course.mkdir()
    (course / "eduproject.toml").write_text(
        "[lti]\n"
        f'client_id = "{CLIENT_ID}"\n'
        f'token_url = "{lms.token_url}"\n'
        f'lineitems = "{lms.lineitems_url}"\n'
        f'memberships = "{lms.memberships_url}"\n'
        f'key = "{keys / "private.pem"}"\n'
        "match_local_part = true\n",
        encoding="utf-8",
    )
    args = ["lti", "sync", str(gradebook), "--lesson", LESSON, "--course", str(course)]
    main([*args, "--dry-run"])
    main(args)
    out = capsys.readouterr().out
    assert "would create the line item for 01-functions" in out and "would post 2 scores" in out
    assert "posted 2 scores, 0 unchanged" in out and "skipped: dee" in out
    main(["lti", "keys", "-o", str(tmp_path / "new-keys")])
    assert '"kty": "RSA"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("wrong-key", "invalid_client"),
        ("no-scores", "invalid_scope"),
        ("wrong-audience", "invalid_grant"),
        ("wrong-lineitems", "HTTP 404"),
        ("server-error", "HTTP 500"),
        ("not-json", "not JSON"),
        ("unreachable", "cannot reach the LMS"),
        ("bad-member", "HTTP 422"),
    ],
)
def test_each_refusal_is_a_clear_error(
    setup: str, expected: str, lms: Platform, keys: Path, gradebook: Path, tmp_path: Path
) -> None:
    extra: dict[str, Any] = {}
    if setup == "wrong-key":
        make_keys(tmp_path / "other")
        extra["key"] = str(tmp_path / "other" / "private.pem")
    elif setup == "no-scores":
        lms.allowed_scopes = {"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"}
    elif setup == "wrong-audience":
        extra["audience"] = "https://elsewhere.example/token"
    elif setup == "wrong-lineitems":
        extra["lineitems"] = lms.lineitems_url + "-typo"
    elif setup == "server-error":
        lms.fail_next["/api/lti/courses/7/line_items"] = (500, {"error": "database down"}, {})
    elif setup == "not-json":
        extra["memberships"] = lms.base + "/jwks-not-here"
        lms.fail_next["/jwks-not-here"] = (200, None, {})
    elif setup == "unreachable":
        extra["token_url"] = "http://127.0.0.1:9/token"
    elif setup == "bad-member":
        roster = tmp_path / "roster.csv"
        roster.write_text("learner,lti_user_id\nada,u-nobody\n", encoding="utf-8")
        extra["roster"] = str(roster)
    settings = settings_for(lms, keys, tmp_path, **extra)
    with pytest.raises(LtiError) as caught:
        sync(settings, gradebook)
    message = str(caught.value)
    assert expected in message, message
    assert "\n  -> " in message  # what to do next
    assert "PRIVATE KEY" not in message and "Bearer" not in message


def test_rate_limits_and_expired_tokens_are_retried(
    lms: Platform, keys: Path, gradebook: Path, tmp_path: Path
) -> None:
    settings = settings_for(lms, keys, tmp_path)
    lms.fail_next["/api/lti/courses/7/names_and_roles"] = (
        429,
        {"error": "slow down"},
        {"Retry-After": "1"},
    )
    sync(settings, gradebook, dry_run=True)
    # One refusal, then the three pages of the class list.
    assert [p for _, p in lms.requests].count("/api/lti/courses/7/names_and_roles") == 1 + 3
    lms.tokens.clear()  # every token the platform gave is now unknown to it
    report = sync(settings, gradebook)
    assert sorted(report.posted) == ["ada", "bob"]


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no \\[lti\\] table"):
        LtiSettings.from_table({}, tmp_path)
    with pytest.raises(ConfigError, match="missing lineitems, key"):
        LtiSettings.from_table({"client_id": "1", "token_url": "https://lms/token"}, tmp_path)
    with pytest.raises(ConfigError, match="must be an http"):
        LtiSettings.from_table(
            {"client_id": "1", "token_url": "lms/token", "lineitems": "x", "key": "k"}, tmp_path
        )
    with pytest.raises(ConfigError, match="unknown key 'secret'"):
        LtiSettings.from_table({"secret": "x"}, tmp_path)
