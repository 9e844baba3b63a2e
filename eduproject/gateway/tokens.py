"""Per-learner and admin tokens: random, shown once, stored only as SHA-256 hashes.

``eduproject tokens issue --learners roster.csv`` gives every learner on the roster one token
and writes ``learner,token`` lines for the instructor to hand out (JupyterHub can put each
learner's into ``EDUPROJECT_TUTOR_TOKEN``). The gateway keeps only the hash, so a copied
database gives nobody a working token::

    store = TokenStore(Database(Path("gateway.sqlite")))
    issued = store.issue(read_roster(Path("roster.csv")).names)
    write_tokens_csv(Path("tokens.csv"), issued.tokens)
    store.verify(issued.tokens[0][1])        # Identity(name='ada', role='learner')
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from eduproject.core.learner_ids import look_alikes, normalize_learner_id, shown
from eduproject.errors import ConfigError, LearnerIdError
from eduproject.gateway.db import Database

Role = Literal["learner", "admin"]
TOKEN_PREFIX = "edut_"  # makes a pasted token recognisable (and findable by secret scanners)
MAX_TOKEN_CHARS = 200
MAX_NAME_CHARS = 128


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: a gateway token's owner (``via="token"``) or a JupyterHub
    user (``via="hub"``)."""

    name: str
    role: Role
    via: str = "token"

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def learner(self) -> bool:
        """Whether the tutor routes (``/v1/*``) are open: learner tokens, and every hub user
        (an instructor on the hub may ask the tutor too)."""
        return self.role == "learner" or self.via == "hub"


@dataclass(frozen=True)
class Issued:
    """New tokens as ``(name, token)`` pairs; ``kept`` names already holding a token."""

    tokens: list[tuple[str, str]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TokenInfo:
    """A token as ``eduproject tokens list`` shows it (never the token or its hash)."""

    name: str
    role: Role
    created: float
    revoked: float | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenStore:
    """The tokens table of the gateway database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(
        self, names: Sequence[str], *, role: Role = "learner", rotate: bool = False
    ) -> Issued:
        """A new token for each name that has none (or for every name, revoking the old
        ones, with ``rotate``)."""
        result = Issued()
        now = time.time()
        with self.db.transaction():
            for name in names:
                active = self.db.execute(
                    "SELECT 1 FROM tokens WHERE name = ? AND role = ? AND revoked IS NULL",
                    (name, role),
                ).fetchone()
                if active and not rotate:
                    result.kept.append(name)
                    continue
                if active:
                    self.db.execute(
                        "UPDATE tokens SET revoked = ? WHERE name = ? AND role = ? "
                        "AND revoked IS NULL",
                        (now, name, role),
                    )
                token = new_token()
                self.db.execute(
                    "INSERT INTO tokens (hash, name, role, created) VALUES (?, ?, ?, ?)",
                    (hash_token(token), name, role, now),
                )
                result.tokens.append((name, token))
        return result

    def verify(self, token: str) -> Identity | None:
        """The identity of a valid, unrevoked token; None otherwise.

        The lookup is by hash, so its timing says nothing about any real token; the
        final comparison is constant-time all the same.
        """
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = hash_token(token)
        row = self.db.execute(
            "SELECT hash, name, role FROM tokens WHERE hash = ? AND revoked IS NULL", (digest,)
        ).fetchone()
        if row is None or not hmac.compare_digest(row[0], digest):
            return None
        return Identity(name=row[1], role=row[2])

    def revoke(self, name: str) -> int:
        """Revoke every active token of ``name``; how many were revoked."""
        cursor = self.db.execute(
            "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL", (time.time(), name)
        )
        return cursor.rowcount

    def list(self) -> list[TokenInfo]:
        rows = self.db.execute(
            "SELECT name, role, created, revoked FROM tokens ORDER BY role, name, created"
        ).fetchall()
        return [TokenInfo(*row) for row in rows]


def check_name(name: str, where: str) -> str:
    """A learner or admin name as the gateway stores it (trimmed), or a ConfigError."""
    name = name.strip()
    if not name:
        raise ConfigError(f"{where}: the name is empty", hint="fill it in or delete the row")
    if len(name) > MAX_NAME_CHARS:
        raise ConfigError(
            f"{where}: the name is {len(name)} characters long (at most {MAX_NAME_CHARS})",
            hint="use the learner's JupyterHub user name",
        )
    if any(not ch.isprintable() and ch.isascii() for ch in name):
        raise ConfigError(
            f"{where}: the name {name!r} contains control characters",
            hint="use the learner's JupyterHub user name",
        )
    # A name that displays like another one must not become a second learner.
    try:
        normal = normalize_learner_id(name)
    except LearnerIdError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
    if normal != name:
        raise ConfigError(
            f"{where}: write {shown(name)!r} as {normal!r} (Unicode NFKC)",
            hint="use the learner's JupyterHub user name in its plain form",
        )
    return name


@dataclass(frozen=True)
class Roster:
    """The learners of a roster file and the header of the column they came from."""

    names: list[str]
    column: str


def read_roster(path: Path) -> Roster:
    """Learner names from a CSV roster whose first line is a header.

    The column named ``learner`` is used (any case), else the first column. Empty lines
    are skipped; duplicates, empty names and unreadable files are errors naming the row.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the roster {path}: {exc.strerror}", hint="check the path"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: the roster is not UTF-8 text",
            hint="save it as CSV (UTF-8) from your spreadsheet",
        ) from None
    if "\x00" in text:
        raise ConfigError(f"{path}: the roster is not a CSV text file", hint="save it as CSV")
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise ConfigError(f"{path}: not valid CSV: {exc}", hint="save it as CSV") from None
    if not rows:
        raise ConfigError(
            f"{path}: the roster is empty",
            hint="write a header line `learner` and one learner name per line",
        )
    header = [c.strip().lower() for c in rows[0]]
    column = header.index("learner") if "learner" in header else 0
    column_name = rows[0][column].strip() if column < len(rows[0]) else ""
    if len(rows) == 1:
        raise ConfigError(
            f"{path}: the roster has a header line but no learners",
            hint="add one learner name per line under the header",
        )
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path}, row {number}"
        if column >= len(row):
            raise ConfigError(f"{where}: no value in column {column + 1}", hint="fill it in")
        name = check_name(row[column], where)
        if name in seen:
            raise ConfigError(
                f"{where}: learner {name!r} is already on row {seen[name]}",
                hint="each learner may appear once",
            )
        seen[name] = number
        names.append(name)
    for name, other in look_alikes(names).items():
        raise ConfigError(
            f"{path}, row {seen[name]}: learner id {shown(name)!r} looks like learner "
            f"{other!r} on row {seen[other]}",
            hint="each learner may appear once; use the user names as they display",
        )
    return Roster(names, column_name)


def write_tokens_csv(path: Path, tokens: Sequence[tuple[str, str]], *, force: bool = False) -> None:
    """``learner,token`` lines, readable by the owner only; never overwrites without ``force``
    (the tokens in an older file exist nowhere else)."""
    if path.exists() and not force:
        raise ConfigError(
            f"{path} already exists",
            hint="choose another file with -o, or pass --force to overwrite it",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", "token"])
    writer.writerows(tokens)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(buffer.getvalue())
        path.chmod(0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", hint="check the folder") from None
