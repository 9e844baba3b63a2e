"""The ``[lti]`` table of ``eduproject.toml``: which LMS, which course, which key.

The values come from the LMS when you register the tool (docs/classroom.md shows where
Canvas and Moodle show them)::

    [lti]
    client_id = "10000000000042"
    token_url = "https://school.instructure.com/login/oauth2/token"
    lineitems = "https://school.instructure.com/api/lti/courses/12/line_items"
    memberships = "https://school.instructure.com/api/lti/courses/12/names_and_roles"
    key = "lti-keys/private.pem"
    match = "email"              # the NRPS member field that holds your learner ids
    match_local_part = true      # ...compared before the @ (ada@school.edu -> ada)
    feedback_url = "https://course.example.edu/feedback/{lesson}/{learner}.html"
    # roster = "lti-roster.csv"  # instead of NRPS: columns learner, lti_user_id
    # audience = "..."           # the token request's aud, when it is not token_url
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eduproject.config import Section, Table, read_section
from eduproject.errors import ConfigError

_URLS = ("token_url", "lineitems", "memberships", "audience", "feedback_url")
_TEXT = ("client_id", "match")
_PATHS = ("key", "roster", "state")
_KNOWN = sorted({*_URLS, *_TEXT, *_PATHS, "match_local_part"})


@dataclass(frozen=True)
class LtiSettings:
    client_id: str
    token_url: str
    lineitems: str
    key: Path
    memberships: str | None = None
    roster: Path | None = None
    audience: str | None = None
    feedback_url: str | None = None
    match: str = "email"
    match_local_part: bool = False
    state: Path | None = None

    @property
    def aud(self) -> str:
        return self.audience or self.token_url

    @classmethod
    def read(cls, t: Table, course_dir: Path) -> LtiSettings:
        """The LMS's section (:data:`SECTION`): typed reads of ``[lti]``; every value the
        LMS gives is required, so an empty table is an error of its own."""
        if t.empty():
            raise ConfigError(
                "eduproject.toml has no [lti] table",
                hint="add client_id, token_url, lineitems and key from your LMS (docs/classroom.md)",
            )
        t.reject_unknown(_KNOWN)
        values: dict[str, Any] = {}
        for key in (*_URLS, *_TEXT, *_PATHS):
            if not t.has(key):
                continue
            value = t.get(key, str).strip()
            if not value:
                t.fail(key, "must be a non-empty string", hint="fix the value in eduproject.toml")
            if key in _URLS:
                parts = urlsplit(value)
                if parts.scheme not in ("https", "http") or not parts.netloc:
                    t.fail(
                        key,
                        f"must be an http(s) URL, not {value!r}",
                        hint="copy it from the LMS's tool settings (docs/classroom.md)",
                    )
            values[key] = (course_dir / value).expanduser() if key in _PATHS else value
        if t.has("match_local_part"):
            values["match_local_part"] = t.get("match_local_part", bool)
        missing = [k for k in ("client_id", "token_url", "lineitems", "key") if k not in values]
        if missing:
            raise ConfigError(
                f"[lti]: missing {', '.join(missing)}",
                hint="the LMS shows them when you register the tool (docs/classroom.md)",
            )
        return cls(**values)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], course_dir: Path) -> LtiSettings:
        """Read ``[lti]``: unknown keys, wrong types and missing values are ConfigErrors."""
        return read_section({"lti": table}, SECTION, course_dir)


# The LMS's table of eduproject.toml (eduproject.config reads it for eduproject.lti).
SECTION = Section("lti", LtiSettings.read)
