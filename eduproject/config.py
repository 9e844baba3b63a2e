"""eduproject's configuration: which files, in which order, which environment variables.

**Files**, lowest precedence first:

1. the user file ``~/.config/eduproject/config.toml`` (``$XDG_CONFIG_HOME`` honoured;
   ``EDUPROJECT_USER_CONFIG`` names another file, which must then exist);
2. the course file ``eduproject.toml`` in the course folder (the current folder unless one is
   given; ``EDUPROJECT_CONFIG`` names another file, which must then exist).

**Environment variables** (:data:`ENVIRONMENT`) win over both files. **Merging**: routes merge
by name (a later file's route replaces an earlier one of the same name), the tables in
:data:`KEY_MERGED` key by key (a later file sets only the keys it names), and every other
table as a whole (the course file's ``[gateway]`` replaces the user file's). Relative paths
in a file are relative to that file's folder.

**Sections.** Each top-level table belongs to one area of eduproject (:data:`TABLES`); an
unknown table is rejected when the files are read (:func:`read_files`). An area declares how
its table is read as a :class:`Section` -- a reader that takes a :class:`Table` (typed reads;
whatever it does not read is an unknown key, reported with the file, the table and the key)
-- and gets it with :func:`read_section` from the merged tables (:class:`Tables`), or with
:func:`load_section` straight from the files::

    SECTION = Section("gateway", GatewaySettings.read)
    settings = read_section(config.other, SECTION, course_dir)
    grading = load_section(GRADING, course_dir)      # without model access

A table may be shared: ``[tutor] routes`` and ``[complete] routes`` are the router's task
routes, read by model access, while the tutor and the inline completer read the table's
other keys (``Section(..., shared=("routes",))``). Model access (``[[routes]]``,
``[tasks]``, ``[cache]``, ``[ledger]`` and those route lists) is read by
:func:`eduproject.models.config.load_config`, which uses the files and helpers here.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from eduproject.errors import ConfigError

__all__ = [
    "COURSE_FILE",
    "ENVIRONMENT",
    "KEY_MERGED",
    "TABLES",
    "ConfigFile",
    "Section",
    "Table",
    "Tables",
    "config_files",
    "course_folder_of",
    "data_home",
    "env_bool",
    "env_list",
    "env_path",
    "load_section",
    "read_files",
    "read_section",
    "read_toml",
]

T = TypeVar("T")

COURSE_FILE = "eduproject.toml"

# Every environment variable that changes the configuration, and what it does.
ENVIRONMENT: Mapping[str, str] = {
    "EDUPROJECT_USER_CONFIG": "the user file to read instead of ~/.config/eduproject/config.toml",
    "EDUPROJECT_CONFIG": "the course file to read instead of <course>/eduproject.toml",
    "EDUPROJECT_LEDGER": "the ledger file ([ledger] path)",
    "EDUPROJECT_CACHE": "the response cache file ([cache] path)",
    "EDUPROJECT_CACHE_ENABLED": "0 or 1 ([cache] enabled)",
    "EDUPROJECT_TUTOR_ROUTES": "comma-separated route names ([tutor] routes)",
    "EDUPROJECT_BENCH_ROUTES": "comma-separated route names ([bench] routes)",
}

# The top-level tables of eduproject.toml and the area that reads each (any other is an error).
TABLES: Mapping[str, str] = {
    "routes": "models",
    "tasks": "models",
    "tutor": "tutor (allowance, refill_seconds, max_input_chars); models (routes)",
    "bench": "models (the benchmark's routes)",
    "complete": "completion (context_chars, max_tokens); models (routes)",
    "cache": "models",
    "ledger": "models",
    "grading": "grading",
    "gateway": "gateway",
    "lti": "lti",
    "policy": "policy",
}

# Tables whose keys merge one by one over the files (a later file sets only the keys it
# names, the others stay as an earlier file set them); every other table merges as a whole.
KEY_MERGED = frozenset({"tasks", "tutor", "complete", "cache"})


def data_home(kind: str) -> Path:
    """Per-user folder of eduproject for ``kind`` (cache, data, config), XDG-style."""
    env, default = {
        "cache": ("XDG_CACHE_HOME", ".cache"),
        "data": ("XDG_DATA_HOME", ".local/share"),
        "config": ("XDG_CONFIG_HOME", ".config"),
    }[kind]
    base = os.environ.get(env) or str(Path.home() / default)
    return Path(base) / "eduproject"


def config_files(course_dir: Path | None) -> list[Path]:
    """The files to read, lowest precedence first (see the module docstring)."""
    paths: list[Path] = []
    user = os.environ.get("EDUPROJECT_USER_CONFIG")
    user_path = Path(user).expanduser() if user else data_home("config") / "config.toml"
    if user or user_path.is_file():
        paths.append(user_path)
    explicit = os.environ.get("EDUPROJECT_CONFIG")
    course_path = (
        Path(explicit).expanduser() if explicit else (course_dir or Path.cwd()) / COURSE_FILE
    )
    if explicit or course_path.is_file():
        paths.append(course_path)
    return paths


def course_folder_of(lesson_folder: Path) -> Path | None:
    """The course folder of a lesson folder: the one holding ``exercises/<lesson>`` or next
    to the lesson folder, whichever has ``eduproject.toml`` (None: the working folder's)."""
    folder = Path(lesson_folder).resolve()
    return next(
        (d for d in (folder.parent.parent, folder.parent) if (d / COURSE_FILE).is_file()), None
    )


def read_toml(path: Path) -> dict[str, Any]:
    """One configuration file as a dict; unreadable or invalid files are ConfigErrors."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the syntax") from None


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file's top-level tables (checked to be known, not yet read)."""

    path: Path
    tables: Mapping[str, Any]


def read_files(course_dir: Path | None) -> list[ConfigFile]:
    """The files of :func:`config_files`, parsed; a top-level table that no area reads is
    rejected here, naming the file and the known tables."""
    files = []
    for path in config_files(course_dir):
        data = read_toml(path)
        for name in data:
            if name not in TABLES:
                raise ConfigError(
                    f"{path}: top level: unknown key {name!r}",
                    hint=f"known keys here: {', '.join(TABLES)}",
                )
        files.append(ConfigFile(path, data))
    return files


class Tables(dict[str, Any]):
    """Top-level tables merged over ``files`` (lowest precedence first; see the module
    docstring), remembering which file each key came from so that messages name it.

    ``names`` keeps only those tables (default: all). A plain dict of tables works wherever
    a ``Tables`` does; its messages then name the table and the key only.
    """

    def __init__(self, files: Sequence[ConfigFile] = (), names: Collection[str] | None = None):
        super().__init__()
        self.origins: dict[str, dict[str, Path]] = {}
        self.sources: dict[str, Path] = {}
        for file in files:
            for name, raw in file.tables.items():
                if names is not None and name not in names:
                    continue
                earlier = self.get(name)
                if name in KEY_MERGED and isinstance(raw, Mapping) and isinstance(earlier, dict):
                    self[name] = {**earlier, **raw}
                else:
                    self[name] = dict(raw) if isinstance(raw, Mapping) else raw
                    self.origins[name] = {}
                if isinstance(raw, Mapping):
                    self.origins[name].update(dict.fromkeys(raw, file.path))
                self.sources[name] = file.path


# ---------------------------------------------------------------- environment


def env_list(name: str) -> tuple[str, ...] | None:
    """A comma-separated variable as a tuple (None when unset)."""
    value = os.environ.get(name)
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def env_bool(name: str) -> bool | None:
    """A 0/1 (true/false, yes/no, on/off) variable (None when unset)."""
    value = os.environ.get(name)
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(
        f"environment variable {name} must be 0 or 1, not {value!r}", hint=f"unset {name} or fix it"
    )


def env_path(name: str) -> Path | None:
    """A file named by a variable (None when unset or empty)."""
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


# ---------------------------------------------------------------- typed tables


class Table:
    """Typed reads from one TOML table; whatever is left unread is an unknown key.

    ``where`` names the table in messages (``"eduproject.toml: table [tutor]"``);
    ``origins`` names the file each key came from, put before ``where`` in messages about
    that key::

        t = Table({"workers": 4}, "[gateway]")
        t.integer("workers", 32)      # 4
        t.done()                      # nothing left: fine
    """

    def __init__(
        self, data: Mapping[str, Any], where: str, origins: Mapping[str, Path] | None = None
    ) -> None:
        self._data = dict(data)
        self._known: list[str] = []
        self._origins = dict(origins or {})
        self.where = where

    def place(self, key: str | None = None) -> str:
        """Where ``key`` (default: any key of the table) was written, for messages."""
        origin = self._origins.get(key) if key is not None else None
        files = set(self._origins.values())
        if origin is None and len(files) == 1:
            origin = files.pop()
        return f"{origin}: table {self.where}" if origin is not None else self.where

    def take_rest(self) -> dict[str, Any]:
        """Every key not read yet, as it is written (for a reader of its own), marked read."""
        rest, self._data = self._data, {}
        return rest

    def has(self, key: str) -> bool:
        return key in self._data

    def empty(self) -> bool:
        """Nothing (left) in the table."""
        return not self._data

    def reject_unknown(self, known: Sequence[str]) -> None:
        """Reject keys outside ``known`` before reading any: a typo is then reported as
        itself, not as the value it leaves missing."""
        for key in self._data:
            if key not in known:
                raise ConfigError(
                    f"{self.place(key)}: unknown key {key!r}",
                    hint=f"known keys here: {', '.join(known)}",
                )

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self._know(key)
        if key not in self._data:
            return default
        value = self._data.pop(key)
        # bool is an int in Python; do not let `retries = true` through.
        wrong_bool = isinstance(value, bool) and bool not in _as_tuple(kind)
        if wrong_bool or not isinstance(value, kind):
            self.fail(key, f"must be {_kind_name(kind)}, not {value!r}")
        return value

    def number(self, key: str, default: float | None = None, *, minimum: float = 0.0) -> Any:
        value = self.get(key, (int, float), default)
        if value is not None and value < minimum:
            self.fail(key, f"must be at least {minimum}, not {value!r}")
        return None if value is None else float(value)

    def integer(self, key: str, default: int, *, minimum: int = 1) -> int:
        """An integer of at least ``minimum`` (1: "a positive integer")."""
        self._know(key)
        if key not in self._data:
            return default
        value = self._data.pop(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = {1: "a positive integer", 0: "an integer, 0 or more"}.get(
                minimum, f"an integer, at least {minimum}"
            )
            self.fail(key, f"must be {what}, not {value!r}")
        return int(value)

    def seconds(self, key: str, default: float) -> float:
        """A positive number of seconds."""
        self._know(key)
        if key not in self._data:
            return default
        value = self._data.pop(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(
                key,
                f"must be a positive number of seconds, not {value!r}",
                hint=f"fix the value in {COURSE_FILE}, e.g. {key} = 10",
            )
        return float(value)

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self.get(key, list)
        if value is None:
            return None
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(
                f"{self.place(key)}: key {key!r} must be a list of strings", hint="fix the list"
            )
        return tuple(value)

    def fail(self, key: str, problem: str, *, hint: str = "fix the value in that file") -> None:
        """Raise the ConfigError for a bad value of ``key``."""
        raise ConfigError(f"{self.place(key)}: key {key!r} {problem}", hint=hint)

    def done(self, known: Sequence[str] | None = None) -> None:
        """Reject what was not read; ``known`` lists the keys in the message (default: the
        keys asked for so far)."""
        if self._data:
            key = next(iter(self._data))
            names = known if known is not None else [k for k in self._known if k != key]
            raise ConfigError(
                f"{self.place(key)}: unknown key {key!r}",
                hint=f"known keys here: {', '.join(names)}",
            )

    def _know(self, key: str) -> None:
        if key not in self._known:
            self._known.append(key)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section(Generic[T]):
    """An area's table of ``eduproject.toml``: its name and how to read it.

    ``read(table, course_dir)`` takes every key it knows from ``table`` (relative paths
    are relative to ``course_dir``) and returns the area's settings value. ``shared`` names
    keys of the table that another area reads (``[tutor] routes`` are model access's): they
    are left to it, neither read nor reported here.
    """

    name: str
    read: Callable[[Table, Path], T]
    shared: tuple[str, ...] = ()


def read_section(tables: Mapping[str, Any], section: Section[T], course_dir: Path) -> T:
    """The settings of ``section`` from merged top-level ``tables`` (``Config.other``, or
    any :class:`Tables`; messages then name the file each key came from).

    An absent table reads as empty (every key at its default); unknown keys are rejected.
    """
    raw = tables.get(section.name, {})
    if not isinstance(raw, Mapping):
        source = tables.sources.get(section.name) if isinstance(tables, Tables) else None
        raise ConfigError(
            f"{f'{source}: ' if source else ''}[{section.name}] must be a table, not {raw!r}",
            hint=f"write it as [{section.name}] with keys",
        )
    origins = tables.origins.get(section.name) if isinstance(tables, Tables) else None
    own = {key: value for key, value in raw.items() if key not in section.shared}
    table = Table(own, f"[{section.name}]", origins)
    value = section.read(table, course_dir)
    table.done()
    return value


def load_section(section: Section[T], course_dir: Path | None) -> T:
    """The settings of ``section`` straight from the files (user file, course file) of the
    course in ``course_dir`` (None: the working folder), without reading any other table.
    Relative paths are relative to the course folder."""
    tables = Tables(read_files(course_dir), names=(section.name,))
    return read_section(tables, section, course_dir or Path.cwd())
