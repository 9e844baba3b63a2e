"""The gateway's own settings: the ``[gateway]`` table of ``eduproject.toml``.

Limits protect the server from oversized requests; the tutor's allowance and question cap
stay in ``[tutor]`` (the same for the in-kernel tutor and the gateway)::

    [gateway]
    db = "gateway.sqlite"        # tokens, allowances and calls (relative to the course folder)
    # database = "postgresql://tutor@db.internal/course"   # instead of db: tokens, allowances,
    #                              # calls, ledger and cache on PostgreSQL, shared by all hosts
    max_body_bytes = 65536       # larger requests get 413
    max_code_chars = 20000       # learner code, error text and question context
    workers = 32                 # tutor calls running at once (threads)
    run_tests = true             # reject model code that passes the exercise's tests
    admin_groups = ["instructors"]   # under JupyterHub: hub groups whose members are admins
    header_timeout_s = 10        # a request's headers (and body) must arrive within this
    max_connections = 4096       # open connections per process (kept under the file limit)
    max_connections_per_address = 1024  # from one IP address (IPv6: one /64); 0: no cap
    max_pending_per_address = 32 # of those, still sending their request headers; 0: no cap
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from eduproject.errors import ConfigError
from eduproject.storage import is_database_url, redact

DB_NAME = "gateway.sqlite"


def default_db(course_dir: Path) -> Path:
    """The database ``eduproject serve`` uses for the course in ``course_dir`` ([gateway] db)."""
    from eduproject.models.config import load_config

    course_dir = course_dir.resolve()
    return GatewaySettings.from_table(
        load_config(course_dir).other.get("gateway", {}), course_dir
    ).db


@dataclass(frozen=True)
class GatewaySettings:
    db: Path = Path(DB_NAME)
    database: str | None = None  # a postgresql:// URL: everything shared lives there
    max_body_bytes: int = 64 * 1024
    max_code_chars: int = 20_000
    workers: int = 32
    run_tests: bool = True
    admin_groups: tuple[str, ...] = ("instructors",)
    header_timeout_s: float = 10.0
    max_connections: int = 4096
    max_connections_per_address: int = 1024
    max_pending_per_address: int = 32

    @property
    def target(self) -> Path | str:
        """Where the gateway's tables live: the PostgreSQL URL, else the SQLite file."""
        return self.database if self.database is not None else self.db

    @classmethod
    def from_table(cls, table: Mapping[str, Any], course_dir: Path) -> GatewaySettings:
        """Read a ``[gateway]`` table; unknown keys and wrong types are ConfigErrors."""
        known = {f.name for f in fields(cls)}
        for key in table:
            if key not in known:
                raise ConfigError(
                    f"[gateway]: unknown key {key!r}",
                    hint=f"known keys: {', '.join(sorted(known))}",
                )
        values: dict[str, Any] = {"db": course_dir / DB_NAME}
        for key in ("max_body_bytes", "max_code_chars", "workers", "max_connections"):
            if key in table:
                values[key] = _integer(table[key], key, lowest=1)
        for key in ("max_connections_per_address", "max_pending_per_address"):
            if key in table:
                values[key] = _integer(table[key], key, lowest=0)
        if "header_timeout_s" in table:
            value = table["header_timeout_s"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"[gateway]: key 'header_timeout_s' must be a positive number of seconds, "
                    f"not {value!r}",
                    hint="fix the value in eduproject.toml, e.g. header_timeout_s = 10",
                )
            values["header_timeout_s"] = float(value)
        if "run_tests" in table:
            if not isinstance(table["run_tests"], bool):
                raise ConfigError(
                    f"[gateway]: key 'run_tests' must be true or false, not {table['run_tests']!r}",
                    hint="fix the value in eduproject.toml",
                )
            values["run_tests"] = table["run_tests"]
        if "db" in table:
            if not isinstance(table["db"], str) or not table["db"]:
                raise ConfigError(
                    f"[gateway]: key 'db' must be a file name, not {table['db']!r}",
                    hint='for example db = "gateway.sqlite"',
                )
            values["db"] = (course_dir / table["db"]).expanduser()
        if "database" in table:
            url = table["database"]
            if not is_database_url(url):
                raise ConfigError(
                    f"[gateway]: key 'database' must be a postgresql:// URL, not {redact(str(url))!r}",
                    hint='for example database = "postgresql://tutor@db.internal/course" '
                    "(an SQLite file goes in db = ...)",
                )
            values["database"] = url
        if "admin_groups" in table:
            groups = table["admin_groups"]
            if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
                raise ConfigError(
                    "[gateway]: key 'admin_groups' must be a list of JupyterHub group names",
                    hint='for example admin_groups = ["instructors"]',
                )
            values["admin_groups"] = tuple(groups)
        return cls(**values)


def _integer(value: Any, key: str, *, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        what = "a positive integer" if lowest == 1 else "an integer, 0 or more"
        raise ConfigError(
            f"[gateway]: key {key!r} must be {what}, not {value!r}",
            hint="fix the value in eduproject.toml",
        )
    return value
