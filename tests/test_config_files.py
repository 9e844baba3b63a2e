"""eduproject.config: which files, in which order; typed tables; sections of other areas."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from eduproject.config import (
    ENVIRONMENT,
    Section,
    Table,
    Tables,
    config_files,
    env_bool,
    load_section,
    read_files,
    read_section,
)
from eduproject.errors import ConfigError


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_user_file_then_course_file_and_variables_name_others(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course = clean_env / "course"
    course.mkdir()
    assert config_files(course) == []  # neither file exists
    user = clean_env / "config" / "eduproject" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("", encoding="utf-8")
    (course / "eduproject.toml").write_text("", encoding="utf-8")
    assert config_files(course) == [user, course / "eduproject.toml"]
    other = clean_env / "other.toml"
    monkeypatch.setenv("EDUPROJECT_CONFIG", str(other))
    monkeypatch.setenv("EDUPROJECT_USER_CONFIG", str(clean_env / "mine.toml"))
    # Named files are read even when missing (reading them then says so).
    assert config_files(course) == [clean_env / "mine.toml", other]


def test_environment_booleans(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_bool("EDUPROJECT_CACHE_ENABLED") is None
    monkeypatch.setenv("EDUPROJECT_CACHE_ENABLED", "off")
    assert env_bool("EDUPROJECT_CACHE_ENABLED") is False
    monkeypatch.setenv("EDUPROJECT_CACHE_ENABLED", "perhaps")
    with pytest.raises(ConfigError, match="must be 0 or 1, not 'perhaps'"):
        env_bool("EDUPROJECT_CACHE_ENABLED")


@dataclass(frozen=True)
class Limits:
    workers: int
    wait_s: float
    folder: Path


def read_limits(t: Table, course_dir: Path) -> Limits:
    return Limits(
        workers=t.integer("workers", 4),
        wait_s=t.seconds("wait_s", 1.0),
        folder=course_dir / t.get("folder", str, "out"),
    )


SECTION = Section("grading", read_limits)


def test_an_area_reads_its_section_with_typed_reads(tmp_path: Path) -> None:
    assert read_section({}, SECTION, tmp_path) == Limits(4, 1.0, tmp_path / "out")
    tables = {"grading": {"workers": 2, "folder": "x"}, "gateway": {"db": "g.sqlite"}}
    assert read_section(tables, SECTION, tmp_path) == Limits(2, 1.0, tmp_path / "x")
    for table, message in [
        ({"workers": 0}, "[grading]: key 'workers' must be a positive integer, not 0"),
        ({"workers": True}, "[grading]: key 'workers' must be a positive integer, not True"),
        ({"wait_s": -1}, "[grading]: key 'wait_s' must be a positive number of seconds"),
        ({"folder": 3}, "[grading]: key 'folder' must be a string, not 3"),
        ({"wokers": 2}, "[grading]: unknown key 'wokers'"),
    ]:
        with pytest.raises(ConfigError) as info:
            read_section({"grading": table}, SECTION, tmp_path)
        assert message in str(info.value)
    with pytest.raises(ConfigError) as info:
        read_section({"grading": {"wokers": 2}}, SECTION, tmp_path)
    assert "known keys here: workers, wait_s, folder" in str(info.value)
    with pytest.raises(ConfigError, match=r"\[grading\] must be a table"):
        read_section({"grading": 3}, SECTION, tmp_path)


def test_tables_merge_over_the_files_and_name_the_file_of_each_key(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = clean_env / "config" / "eduproject" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[tutor]\nallowance = 3\n\n[gateway]\nworkers = 2\n", encoding="utf-8")
    course = clean_env / "course"
    course.mkdir()
    (course / "eduproject.toml").write_text(
        '[tutor]\nrefill_seconds = "soon"\n\n[gateway]\ndb = "g.sqlite"\n', encoding="utf-8"
    )
    tables = Tables(read_files(course))
    # [tutor] merges key by key; [gateway] as a whole (the course file's replaces the user's).
    assert tables == {
        "tutor": {"allowance": 3, "refill_seconds": "soon"},
        "gateway": {"db": "g.sqlite"},
    }
    limits = Section("tutor", lambda t, _: t.integer("allowance", 10), shared=("refill_seconds",))
    assert read_section(tables, limits, course) == 3
    seconds = Section("tutor", lambda t, _: t.seconds("refill_seconds", 1.0), shared=("allowance",))
    with pytest.raises(ConfigError) as info:
        read_section(tables, seconds, course)
    assert str(info.value).startswith(
        f"{course / 'eduproject.toml'}: table [tutor]: key 'refill_seconds' must be a positive"
    )
    with pytest.raises(ConfigError) as info:
        read_section(
            tables, Section("tutor", lambda t, _: None, shared=("refill_seconds",)), course
        )
    assert str(info.value).startswith(f"{user}: table [tutor]: unknown key 'allowance'")
    assert load_section(SECTION, course) == Limits(4, 1.0, course / "out")


def test_a_table_no_area_reads_is_refused_with_the_file(clean_env: Path) -> None:
    (clean_env / "eduproject.toml").write_text("[sandbox]\nbackend = 'bwrap'\n")
    with pytest.raises(ConfigError) as info:
        load_section(SECTION, clean_env)
    assert f"{clean_env / 'eduproject.toml'}: top level: unknown key 'sandbox'" in str(info.value)
    assert "grading" in info.value.hint and "sandbox" not in info.value.hint
