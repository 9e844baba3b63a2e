"""`eduproject quickstart DIR` and the sample course shipped inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from eduproject.authoring import find_lessons, load_lesson, release
from eduproject.cli import main
from eduproject.cli.quickstart import quickstart, sample_course
from eduproject.errors import ConfigError
from eduproject.grading.settings import GradingSettings, grading_settings
from eduproject.models.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def test_the_sample_course_ships_inside_the_package() -> None:
    lessons = find_lessons([sample_course()])
    assert [p.name for p in lessons] == [p.name for p in find_lessons([ROOT / "exercises"])]
    assert (sample_course() / "04-pandas-intro" / "data" / "weather.csv").is_file()


def test_quickstart_writes_a_ready_course(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    course = tmp_path / "my-course"
    main(["quickstart", str(course)])
    out = capsys.readouterr().out
    assert out.startswith(f"wrote the course {course} (")
    assert "eduproject release exercises/ -o notebooks/" in out
    assert sorted(p.name for p in course.iterdir()) == [
        ".gitignore",
        "README.md",
        "eduproject.toml",
        "exercises",
    ]
    lessons = find_lessons([course / "exercises"])
    assert [p.name for p in lessons] == [
        "01-functions",
        "02-loops-strings",
        "03-lists-dicts",
        "04-pandas-intro",
    ]
    for lesson in lessons:
        load_lesson(lesson)  # every copied lesson is a valid lesson
    # The configuration is valid and offline first; the routes are there, commented out.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no user file
    monkeypatch.delenv("EDUPROJECT_USER_CONFIG", raising=False)
    monkeypatch.delenv("EDUPROJECT_TUTOR_ROUTES", raising=False)
    monkeypatch.delenv("EDUPROJECT_CONFIG", raising=False)
    config = load_config(course)
    assert config.routes_for("hint") == ("offline",)
    toml = (course / "eduproject.toml").read_text()
    assert '# model = "bigcode/starcoder2-3b"' in toml and "api_key_env" in toml
    # The [grading] block, uncommented, is a valid section with those values.
    block = toml[toml.index("# [grading]") :].splitlines()
    uncommented = "\n".join(line.removeprefix("# ") for line in block)
    (course / "eduproject.toml").write_text(toml + "\n" + uncommented)
    lesson = course / "exercises" / "01-functions"
    assert grading_settings(lesson) == GradingSettings(4, 30.0, 300.0, 1024)
    (course / "eduproject.toml").write_text(toml)
    assert "build/" in (course / ".gitignore").read_text()
    readme = (course / "README.md").read_text()
    assert "eduproject grade exercises/01-functions submissions/" in readme
    # Released from inside the new course, the bundle lands in its build/.
    monkeypatch.chdir(course)
    result = release(Path("exercises/01-functions"), Path("notebooks"))
    assert result.bundle.resolve() == (course / "build/grader/01-functions/bundle.json")


def test_quickstart_never_writes_into_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists and is not an empty folder"):
        quickstart(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_a_built_wheel_carries_the_sample_course(tmp_path: Path) -> None:
    """What `pip install eduproject` gets (no checkout around it): the lessons as real files."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("eduproject-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for lesson in find_lessons([ROOT / "exercises"]):
        assert f"eduproject/sample_course/{lesson.name}/{lesson.name}.ipynb" in names
    assert "eduproject/sample_course/04-pandas-intro/data/weather.csv" in names
    assert "eduproject/learner/static/panel.css" in names
