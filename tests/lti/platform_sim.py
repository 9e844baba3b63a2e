"""A local LTI 1.3 platform (an LMS's side of the services), for the LTI tests.

It follows the IMS specifications a tool talks to after registration:

* **Security Framework 1.0 §4.1** -- ``POST /token``: the client-credentials grant with a JWT
  client assertion (``client_assertion_type`` jwt-bearer). The JWT must be RS256, signed by
  a key of the registered tool JWKS (``kid``), with ``iss`` = ``sub`` = the client id,
  ``aud`` naming the token endpoint, a live ``exp`` (at most an hour after ``iat``) and a
  ``jti`` never seen before. Errors are RFC 6749 §5.2 JSON (``invalid_client``,
  ``invalid_scope``, ...). ``GET /jwks`` publishes the platform's own keys.
* **Assignment and Grade Services 2.0** -- the line items container (``GET`` with
  ``resource_id`` / ``resource_link_id`` / ``tag`` filters and ``limit`` paging by ``Link:
  rel="next"``; ``POST`` a line item: ``label`` and ``scoreMaximum`` > 0 required), a line
  item (``GET``), its ``/scores`` (``POST``: ``userId`` of a course member, ``timestamp`` in
  ISO 8601 with an offset, ``activityProgress`` and ``gradingProgress`` from their
  vocabularies, ``scoreGiven`` >= 0 only with ``scoreMaximum`` > 0, ``comment`` a string;
  a score older than the last one for that user is ignored) and ``/results``.
* **Names and Role Provisioning Services 2.0** -- the membership container (``members``,
  paged with ``limit`` and ``Link: rel="next"``).

Every service checks the bearer token, its scope, the ``Accept`` media type (and the
``Content-Type`` of writes). With ``moodle_urls`` a line item's URL carries a query string,
as Moodle's do. ``fail_next`` makes the next matching request fail with a given status and
body (for the error tests); ``requests`` logs every call.
"""

from __future__ import annotations

import datetime
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPES = {
    AGS + "lineitem",
    AGS + "lineitem.readonly",
    AGS + "result.readonly",
    AGS + "score",
    NRPS,
}
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class Platform:
    """State of the simulated LMS course."""

    client_id: str
    tool_jwks: dict[str, Any]
    members: list[dict[str, Any]]
    allowed_scopes: set[str] = field(default_factory=lambda: set(SCOPES))
    moodle_urls: bool = False
    page_size: int = 2
    token_lifetime_s: int = 3600
    base: str = ""
    line_items: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=dict
    )  # item -> user -> score
    tokens: dict[str, tuple[set[str], float]] = field(default_factory=dict)
    jtis: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    @property
    def lineitems_url(self) -> str:
        return f"{self.base}/api/lti/courses/7/line_items"

    @property
    def memberships_url(self) -> str:
        return f"{self.base}/api/lti/courses/7/names_and_roles"

    def posts(self, kind: str) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and kind in path)

    # -- the token endpoint ----------------------------------------------------------------

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise Refused(400, {"error": "unsupported_grant_type"})
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise Refused(
                400, {"error": "invalid_request", "error_description": "no client assertion"}
            )
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError:
            raise Refused(
                400, {"error": "invalid_request", "error_description": "not a JWT"}
            ) from None
        keys = {k.get("kid"): k for k in self.tool_jwks["keys"]}
        if header.get("alg") != "RS256" or header.get("kid") not in keys:
            raise Refused(401, {"error": "invalid_client", "error_description": "unknown kid"})
        key = jwt.PyJWK(keys[header["kid"]]).key
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.InvalidSignatureError:
            raise Refused(
                401, {"error": "invalid_client", "error_description": "bad signature"}
            ) from None
        except jwt.InvalidTokenError as exc:
            raise Refused(400, {"error": "invalid_grant", "error_description": str(exc)}) from None
        if claims["sub"] != self.client_id:
            raise Refused(401, {"error": "invalid_client", "error_description": "sub"})
        if claims["exp"] - claims["iat"] > 3600:
            raise Refused(400, {"error": "invalid_grant", "error_description": "exp too far"})
        with self.lock:
            if claims["jti"] in self.jtis:
                raise Refused(400, {"error": "invalid_grant", "error_description": "jti replayed"})
            self.jtis.add(claims["jti"])
        requested = set(form.get("scope", "").split())
        if not requested or not requested <= SCOPES:
            raise Refused(400, {"error": "invalid_scope", "error_description": "unknown scope"})
        if not requested <= self.allowed_scopes:
            raise Refused(400, {"error": "invalid_scope", "error_description": "not allowed"})
        access = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[access] = (requested, time.time() + self.token_lifetime_s)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_lifetime_s,
            "scope": " ".join(sorted(requested)),
        }

    def authorize(self, headers: Any, *needed: str) -> None:
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        entry = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if entry is None or entry[1] < time.time():
            raise Refused(401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"})
        if not set(needed) & entry[0]:
            raise Refused(403, {"error": "insufficient_scope", "scope": " ".join(needed)})

    # -- line items and scores -------------------------------------------------------------

    def item_url(self, number: int) -> str:
        if self.moodle_urls:
            return f"{self.lineitems_url}/{number}/lineitem?type_id=3"
        return f"{self.lineitems_url}/{number}"

    def create_item(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Refused(400, {"error": "a line item is a JSON object"})
        if not isinstance(body.get("label"), str) or not body["label"].strip():
            raise Refused(400, {"error": "label is required"})
        maximum = body.get("scoreMaximum")
        if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
            raise Refused(400, {"error": "scoreMaximum must be a number > 0"})
        for key in ("resourceId", "tag", "resourceLinkId"):
            if key in body and not isinstance(body[key], str):
                raise Refused(400, {"error": f"{key} must be a string"})
        with self.lock:
            number = len(self.line_items) + 1
            item = {**body, "id": self.item_url(number)}
            self.line_items[str(number)] = item
        return item

    def list_items(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = list(self.line_items.values())
        for param, key in (
            ("resource_id", "resourceId"),
            ("tag", "tag"),
            ("resource_link_id", "resourceLinkId"),
        ):
            if param in query:
                items = [i for i in items if i.get(key) == query[param]]
        return items

    def post_score(self, number: str, body: Any) -> None:
        if number not in self.line_items:
            raise Refused(404, {"error": "no such line item"})
        if not isinstance(body, dict):
            raise Refused(400, {"error": "a score is a JSON object"})
        known = {
            "userId",
            "scoreGiven",
            "scoreMaximum",
            "comment",
            "timestamp",
            "activityProgress",
            "gradingProgress",
            "submission",
        }
        extra = set(body) - known
        if any(not k.startswith("https://") for k in extra):  # extensions are URLs
            raise Refused(400, {"error": f"unknown score fields {sorted(extra)}"})
        users = {m["user_id"] for m in self.members}
        if body.get("userId") not in users:
            raise Refused(422, {"error": f"user {body.get('userId')!r} is not in this course"})
        if body.get("activityProgress") not in ACTIVITY:
            raise Refused(400, {"error": "activityProgress is missing or unknown"})
        if body.get("gradingProgress") not in GRADING:
            raise Refused(400, {"error": "gradingProgress is missing or unknown"})
        stamp = body.get("timestamp")
        try:
            when = datetime.datetime.fromisoformat(str(stamp))
        except ValueError:
            raise Refused(400, {"error": "timestamp must be ISO 8601"}) from None
        if when.tzinfo is None:
            raise Refused(400, {"error": "timestamp needs a time zone offset"})
        if "scoreGiven" in body:
            given, maximum = body["scoreGiven"], body.get("scoreMaximum")
            for value in (given, maximum):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise Refused(400, {"error": "scoreGiven needs scoreMaximum; both numbers"})
            if given < 0 or maximum <= 0:
                raise Refused(400, {"error": "scoreGiven >= 0 and scoreMaximum > 0"})
        if "comment" in body and not isinstance(body["comment"], str):
            raise Refused(400, {"error": "comment must be a string"})
        with self.lock:
            kept = self.scores.setdefault(number, {})
            old = kept.get(body["userId"])
            if old is not None and datetime.datetime.fromisoformat(old["timestamp"]) > when:
                return  # an older score than the last one: ignored, as the spec says
            kept[body["userId"]] = body


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            platform.requests.append((method, parts.path))
            try:
                failure = platform.fail_next.pop(parts.path, None)
                if failure is not None:
                    raise Refused(*failure)
                self._route(method, parts.path, query, raw)
            except Refused as exc:
                self._send(exc.status, exc.body, "application/json", exc.headers)

        def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
            course = "/api/lti/courses/7"
            if path == "/jwks" and method == "GET":
                self._send(200, {"keys": []}, "application/json")
            elif path == "/token" and method == "POST":
                if not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"
                ):
                    raise Refused(400, {"error": "invalid_request"})
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._send(200, platform.token(form), "application/json")
            elif path == f"{course}/line_items" and method == "GET":
                platform.authorize(self.headers, AGS + "lineitem", AGS + "lineitem.readonly")
                self._accepts(CONTAINER)
                self._paged(platform.list_items(query), query, CONTAINER, None)
            elif path == f"{course}/line_items" and method == "POST":
                platform.authorize(self.headers, AGS + "lineitem")
                self._content(LINEITEM)
                self._send(201, platform.create_item(self._json(raw)), LINEITEM)
            elif path == f"{course}/names_and_roles" and method == "GET":
                platform.authorize(self.headers, NRPS)
                self._accepts(MEMBERSHIPS)
                self._paged(platform.members, query, MEMBERSHIPS, "members")
            elif path.startswith(f"{course}/line_items/"):
                rest = path[len(f"{course}/line_items/") :].split("/")
                number = rest[0]
                tail = [p for p in rest[1:] if p != "lineitem"]  # Moodle: .../3/lineitem/scores
                if platform.moodle_urls and query.get("type_id") != "3":
                    raise Refused(404, {"error": "no such tool type"})
                if tail == ["scores"] and method == "POST":
                    platform.authorize(self.headers, AGS + "score")
                    self._content(SCORE)
                    platform.post_score(number, self._json(raw))
                    self._send(204, None, "")
                elif tail == ["results"] and method == "GET":
                    platform.authorize(self.headers, AGS + "result.readonly")
                    results = [
                        {
                            "userId": u,
                            "resultScore": s.get("scoreGiven"),
                            "resultMaximum": s.get("scoreMaximum"),
                            "comment": s.get("comment"),
                        }
                        for u, s in platform.scores.get(number, {}).items()
                    ]
                    self._send(200, results, RESULTS)
                elif not tail and method == "GET" and number in platform.line_items:
                    platform.authorize(self.headers, AGS + "lineitem", AGS + "lineitem.readonly")
                    self._send(200, platform.line_items[number], LINEITEM)
                else:
                    raise Refused(404, {"error": "not found"})
            else:
                raise Refused(404, {"error": "not found"})

        def _accepts(self, media: str) -> None:
            accept = self.headers.get("Accept", "")
            if media not in accept and "application/json" not in accept:
                raise Refused(406, {"error": f"send Accept: {media}"})

        def _content(self, media: str) -> None:
            if self.headers.get("Content-Type", "").split(";")[0].strip() != media:
                raise Refused(415, {"error": f"send Content-Type: {media}"})

        def _json(self, raw: bytes) -> Any:
            try:
                return json.loads(raw)
            except ValueError:
                raise Refused(400, {"error": "the body is not JSON"}) from None

        def _paged(
            self, items: list[Any], query: dict[str, str], media: str, key: str | None
        ) -> None:
            start = int(query.get("offset", "0"))
            size = int(query.get("limit", str(platform.page_size)))
            page = items[start : start + size]
            headers = {}
            if start + size < len(items):
                rest = {k: v for k, v in query.items() if k not in ("offset", "limit")}
                rest.update(offset=str(start + size), limit=str(size))
                headers["Link"] = (
                    f'<{platform.base}{self.path.split("?")[0]}?{urlencode(rest)}>; rel="next"'
                )
            body: Any = (
                {"id": platform.memberships_url, "context": {"id": "7"}, key: page} if key else page
            )
            self._send(200, body, media, headers)

        def _send(
            self, status: int, body: Any, media: str, headers: dict[str, str] | None = None
        ) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if raw:
                self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def running_platform(**options: Any) -> Iterator[Platform]:
    platform = Platform(**options)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(platform))
    httpd.daemon_threads = True
    platform.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
