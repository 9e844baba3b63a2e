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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eduproject.config import Section, Table, read_section
from eduproject.core.storage import is_database_url, redact

DB_NAME = "gateway.sqlite"


def default_db(course_dir: Path) -> Path:
    """The database ``eduproject serve`` uses for the course in ``course_dir`` ([gateway] db)."""
    from eduproject.models.config import load_config

    course_dir = course_dir.resolve()
    return read_section(load_config(course_dir).other, SECTION, course_dir).db


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
    def read(cls, t: Table, course_dir: Path) -> GatewaySettings:
        """The gateway's section (:data:`SECTION`): typed reads of the ``[gateway]`` table."""
        d = cls()
        db = t.get("db", str, DB_NAME)
        if not db:
            t.fail(
                "db", f"must be a file name, not {db!r}", hint='for example db = "gateway.sqlite"'
            )
        database = t.get("database", str)
        if database is not None and not is_database_url(database):
            t.fail(
                "database",
                f"must be a postgresql:// URL, not {redact(database)!r}",
                hint='for example database = "postgresql://tutor@db.internal/course" '
                "(an SQLite file goes in db = ...)",
            )
        groups = t.strings("admin_groups")
        if groups is not None and not all(groups):
            t.fail(
                "admin_groups",
                "must be a list of JupyterHub group names",
                hint='for example admin_groups = ["instructors"]',
            )
        return cls(
            db=(course_dir / db).expanduser(),
            database=database,
            max_body_bytes=t.integer("max_body_bytes", d.max_body_bytes),
            max_code_chars=t.integer("max_code_chars", d.max_code_chars),
            workers=t.integer("workers", d.workers),
            run_tests=t.get("run_tests", bool, d.run_tests),
            admin_groups=groups if groups is not None else d.admin_groups,
            header_timeout_s=t.seconds("header_timeout_s", d.header_timeout_s),
            max_connections=t.integer("max_connections", d.max_connections),
            max_connections_per_address=t.integer(
                "max_connections_per_address", d.max_connections_per_address, minimum=0
            ),
            max_pending_per_address=t.integer(
                "max_pending_per_address", d.max_pending_per_address, minimum=0
            ),
        )

    @classmethod
    def from_table(cls, table: Mapping[str, Any], course_dir: Path) -> GatewaySettings:
        """Read a ``[gateway]`` table; unknown keys and wrong types are ConfigErrors."""
        return read_section({"gateway": table}, SECTION, course_dir)


# The gateway's table of eduproject.toml (eduproject.config reads it for the gateway).
SECTION = Section("gateway", GatewaySettings.read)
