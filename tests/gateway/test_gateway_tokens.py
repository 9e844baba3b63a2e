"""Rosters, token issuing and revocation, library and CLI: only hashes are ever stored."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest

from eduproject.errors import ConfigError
from eduproject.gateway.db import Database
from eduproject.gateway.service import TutorService
from eduproject.gateway.tokens import (
    TOKEN_PREFIX,
    Identity,
    TokenStore,
    hash_token,
    read_roster,
)
from tests.support.cli import run_cli

from .gateway_support import write_config


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_roster_column_learner_or_the_first(tmp_path: Path) -> None:
    roster = read_roster(write(tmp_path / "a.csv", "email,learner\nx@y,ada\n,bob \n\n"))
    assert (roster.names, roster.column) == (["ada", "bob"], "learner")
    roster = read_roster(write(tmp_path / "b.csv", "\ufeffUser,Section\nada,1\nbob,2\n"))
    assert (roster.names, roster.column) == (["ada", "bob"], "User")
    roster = read_roster(write(tmp_path / "c.csv", 'LEARNER\n"o\'neil, j"\n'))
    assert roster.names == ["o'neil, j"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the roster is empty"),
        ("learner\n", "has a header line but no learners"),
        ("learner\nada\nbob\nada\n", "row 4: learner 'ada' is already on row 2"),
        ("email,learner\nx@y,ada\nz@y\n", "row 3: no value in column 2"),
        ("learner\n  \nada\n", None),  # blank lines are skipped
        ("learner,email\n ,a@b\n", "row 2: the name is empty"),
        (b"learner\nad\xe9\n", "the roster is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text"),
        ("learner\n" + "x" * 200 + "\n", "row 2: the name is 200 characters long"),
        ("learner\nada\x07\n", "contains control characters"),
    ],
)
def test_bad_rosters_say_where_and_what(
    tmp_path: Path, content: str | bytes, message: str | None
) -> None:
    path = write(tmp_path / "roster.csv", content)
    if message is None:
        assert read_roster(path).names == ["ada"]
        return
    with pytest.raises(ConfigError) as caught:
        read_roster(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_roster(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the roster"):
        read_roster(tmp_path / "nope.csv")


def test_store_keeps_hashes_issues_once_and_rotates(tmp_path: Path) -> None:
    db = Database(tmp_path / "gateway.sqlite")
    store = TokenStore(db)
    first = store.issue(["ada", "bob"])
    tokens = dict(first.tokens)
    assert all(t.startswith(TOKEN_PREFIX) and len(t) > 40 for t in tokens.values())
    assert len(set(tokens.values())) == 2
    assert store.verify(tokens["ada"]).name == "ada"  # type: ignore[union-attr]
    again = store.issue(["ada", "cy"])
    assert again.kept == ["ada"] and [n for n, _ in again.tokens] == ["cy"]
    rotated = store.issue(["ada"], rotate=True)
    assert store.verify(tokens["ada"]) is None
    assert store.verify(rotated.tokens[0][1]).name == "ada"  # type: ignore[union-attr]
    assert store.verify(tokens["bob"]).role == "learner"  # type: ignore[union-attr]
    assert store.verify("edut_" + "A" * 43) is None and store.verify("") is None
    db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("gateway.sqlite*"))
    for token in (*tokens.values(), rotated.tokens[0][1]):
        assert token.encode() not in raw
    assert hash_token(tokens["bob"]).encode() in raw
    assert stat.S_IMODE((tmp_path / "gateway.sqlite").stat().st_mode) == 0o600


def test_cli_issue_admin_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = write(tmp_path / "roster.csv", "learner,email\nada,a@x\nbob,b@x\n")
    db = ["--db", str(tmp_path / "g.sqlite")]
    out = tmp_path / "tokens.csv"
    code, said, _ = run_cli(
        ["tokens", "issue", "--learners", str(roster), *db, "-o", str(out)], capsys
    )
    assert code == 0
    assert "read 2 learners from column 'learner'" in said and "wrote 2 new tokens" in said
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["learner"] for r in rows] == ["ada", "bob"]
    store = TokenStore(Database(tmp_path / "g.sqlite"))
    assert store.verify(rows[1]["token"]).name == "bob"  # type: ignore[union-attr]
    assert rows[0]["token"] not in said  # tokens go to the file only

    code, _, err = run_cli(
        ["tokens", "issue", "--learners", str(roster), *db, "-o", str(out)], capsys
    )
    assert code == 2 and f"{out} already exists" in err

    write(roster, "learner\nada\ncy\n")
    more = str(tmp_path / "more.csv")
    code, said, _ = run_cli(["tokens", "issue", "--learners", str(roster), *db, "-o", more], capsys)
    assert "wrote 1 new tokens" in said and "1 learners already had a token" in said

    code, admin, _ = run_cli(["tokens", "admin", *db, "--name", "teacher"], capsys)
    assert code == 0 and store.verify(admin.strip()).role == "admin"  # type: ignore[union-attr]
    code, _, err = run_cli(["tokens", "admin", *db, "--name", "teacher"], capsys)
    assert code == 1 and "'teacher' already has an admin token" in err

    code, listing, _ = run_cli(["tokens", "list", *db], capsys)
    assert "teacher" in listing and "cy" in listing and admin.strip() not in listing
    code, said, _ = run_cli(["tokens", "revoke", "bob", *db], capsys)
    assert "revoked 1 token of bob" in said
    assert store.verify(rows[1]["token"]) is None
    code, _, err = run_cli(["tokens", "revoke", "bob", *db], capsys)
    assert code == 1 and "'bob' has no active token" in err
    store.db.close()


def test_cli_bad_roster_exits_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = write(tmp_path / "roster.csv", "learner\nada\nada\n")
    code, _, err = run_cli(
        ["tokens", "issue", "--learners", str(roster), "--db", str(tmp_path / "g.sqlite")], capsys
    )
    assert code == 2
    assert "row 3: learner 'ada' is already on row 2" in err and "Traceback" not in err
    assert not (tmp_path / "work" / "tokens.csv").exists()


def test_tokens_go_where_serve_looks(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(course, base_url=None, gateway='[gateway]\ndb = "state/tutor.sqlite"')
    roster = write(tmp_path / "roster.csv", "learner\nada\n")
    out = tmp_path / "t.csv"
    code, _, _ = run_cli(
        ["tokens", "issue", "--learners", str(roster), "--course", str(course), "-o", str(out)],
        capsys,
    )
    assert code == 0 and (course / "state" / "tutor.sqlite").is_file()
    token = out.read_text(encoding="utf-8").split()[1].split(",")[1]
    service = TutorService.from_course(course)
    try:
        assert service.authenticate(token) == Identity("ada", "learner")
    finally:
        service.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("learner\nada\u200b\n", "row 2: learner id 'ada<U+200B>' contains an invisible"),
        ("learner\nada\u202e\n", "text-direction character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("learner\n\u0430da\n", "'<U+0430>da' mixes Cyrillic and Latin letters"),
        ("learner\n\uff41\uff44\uff41\n", "row 2: write '<U+FF41><U+FF44><U+FF41>' as 'ada'"),
        ("learner\nace\n\u0430\u0441\u0435\n", "row 3: learner id '<U+0430><U+0441><U+0435>' "
         "looks like learner 'ace' on row 2"),
    ],
)  # fmt: skip
def test_look_alike_names_are_refused_with_the_row(
    tmp_path: Path, content: str, message: str
) -> None:
    """Issue 11, class 9: names that display like another learner's never get a token."""
    path = write(tmp_path / "roster.csv", content)
    with pytest.raises(ConfigError) as caught:
        read_roster(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
