"""``eduproject quickstart DIR``: a ready course folder, and the sample course shipped inside.

The sample course (four lessons) is package data, so ``eduproject demo`` works in any folder
after a plain ``pip install eduproject``, and ``quickstart`` copies it into a new course::

    my-course/
        exercises/01-functions/01-functions.ipynb ...   the sample lessons, yours to edit
        eduproject.toml                                  model routes (commented out), tutor limits
        README.md                                        how to release, validate and grade
        .gitignore                                       keeps bundles and gradebooks out of git
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from eduproject.errors import ConfigError

__all__ = ["quickstart", "sample_course"]


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart_command)


def quickstart_command(
    folder: Annotated[Path, typer.Argument(help="The new course folder (new or empty).")],
) -> None:
    """Write a ready course folder: the sample lessons, eduproject.toml and a README."""
    written = quickstart(folder)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"wrote the course {folder} ({len(written)} files)", markup=False)
    for line in _NEXT_STEPS.format(course=folder).splitlines():
        console.print(line, markup=False)


def sample_course() -> Path:
    """The folder of sample lessons shipped with eduproject (``exercises/`` of the course)."""
    folder = Path(str(resources.files("eduproject").joinpath("sample_course")))
    if not folder.is_dir():
        raise ConfigError(
            f"the sample course is missing from this installation ({folder})",
            hint="reinstall eduproject: `pip install --force-reinstall eduproject`",
        )
    return folder


def quickstart(folder: Path) -> list[Path]:
    """Write a course into ``folder`` (which must be new or empty); return the files written."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"{folder} already exists and is not an empty folder",
            hint="give a new folder name, e.g. `eduproject quickstart my-course`",
        )
    lessons = sorted(p for p in sample_course().iterdir() if p.is_dir() and not _hidden(p))
    written: list[Path] = []
    for lesson in lessons:
        for source in sorted(lesson.rglob("*")):
            if source.is_file() and not _hidden(source.relative_to(lesson)):
                target = folder / "exercises" / lesson.name / source.relative_to(lesson)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                written.append(target)
    for name, text in (
        ("eduproject.toml", _CONFIG),
        (
            "README.md",
            _README.format(lessons="\n".join(f"- `exercises/{p.name}/`" for p in lessons)),
        ),
        (".gitignore", _GITIGNORE),
    ):
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written


def _hidden(path: Path) -> bool:
    return any(part.startswith((".", "__")) for part in path.parts)


_NEXT_STEPS = """next:
  cd {course}
  eduproject release exercises/ -o notebooks/     # learner notebooks + sealed grader bundles
  eduproject validate exercises/                  # solutions pass, stubs fail
  eduproject demo                                 # a simulated class, graded, with a report"""

_CONFIG = """\
# eduproject.toml -- the course's settings (docs: docs/models.md, docs/tutor.md, docs/grading.md).
#
# Without any route the tutor is the offline tutor: it explains failing tests and errors
# and gives your hints, with no model and no network. To give learners an AI tutor, define
# a route and name it under [tutor] routes. StarCoder2 served by vLLM or Ollama:
#
# [[routes]]
# name = "sc2-vllm"
# provider = "openai"                      # openai | tgi | edenai | replicate | local
# base_url = "http://127.0.0.1:8000/v1"    # vLLM; Ollama: http://127.0.0.1:11434/v1
# model = "bigcode/starcoder2-3b"          # Ollama: "starcoder2:3b"
# family = "starcoder2"
#
# [[routes]]
# name = "deepinfra"
# provider = "openai"
# base_url = "https://api.deepinfra.com/v1/openai"
# model = "bigcode/starcoder2-15b"
# family = "starcoder2"
# api_key_env = "DEEPINFRA_API_KEY"        # the key itself never goes into this file
#
# With `pip install eduproject[local]`, the route "local-smollm2" exists too: a tiny
# demonstration model that runs on the CPU (often wrong; learners see it labelled).

[tutor]
routes = ["offline"]      # e.g. ["sc2-vllm", "offline"]: the model first, offline as fallback
allowance = 10            # model questions per learner ...
refill_seconds = 180      # ... one more every 3 minutes
max_input_chars = 1000    # the longest question a learner may ask

# Defaults for `eduproject grade` (docs/grading.md); an option on the command line wins:
#
# [grading]
# workers = 4             # submissions graded at once (default: the number of cores)
# cell_timeout = 30       # seconds per cell or test
# timeout = 300           # seconds per whole submission
# memory = 1024           # MB of memory learner code may use
"""

_README = """\
# My eduproject course

Made with `eduproject quickstart`. Lessons are ordinary Jupyter notebooks with cell tags
(eduproject's docs/format.md describes them). The sample lessons are yours to change or
delete:

{lessons}

## The instructor's day

```bash
jupyter lab exercises/01-functions/01-functions.ipynb     # author: tags + ### BEGIN SOLUTION
eduproject release exercises/ -o notebooks/                # learner notebooks; bundles in build/grader/
eduproject validate exercises/                             # solutions pass, stubs fail
# give learners notebooks/<lesson>/ (never build/: it holds solutions and hidden tests)
eduproject grade exercises/01-functions submissions/ --db gradebook.sqlite
eduproject export gradebook.sqlite --format csv -o grades.csv
eduproject feedback gradebook.sqlite -o feedback/
eduproject report gradebook.sqlite -o report.html --course "My course"
```

`eduproject demo` runs all of it on a simulated class, offline.

## The tutor

Learners get a panel under each exercise (Check, Hint, Explain my code, Ask). Out of the box
it is the offline tutor; `eduproject.toml` says how to add a model.
"""

_GITIGNORE = """\
# Sealed grader bundles hold solutions and hidden tests: never publish them.
build/
*.sqlite
*.sqlite3
demo-output/
.ipynb_checkpoints/
"""
