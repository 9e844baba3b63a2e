"""Talking to the LMS: LTI 1.3 service calls (AGS line items and scores, NRPS memberships).

Every call carries an access token from the platform's token endpoint, got with the OAuth 2
client-credentials grant and a JWT signed by the tool's key (IMS Security Framework §4.1).
Every answer the platform can give becomes either data or an :class:`LtiError` that says what
to check next; a 429 waits for ``Retry-After`` (three times at most), a 401 on a service call
gets one fresh token::

    platform = Platform(settings, load_signing_key(settings.key))
    items = platform.line_items(resource_id="01-functions")
    platform.post_score(items[0]["id"], {"userId": "u1", "scoreGiven": 3, ...})
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from eduproject.errors import LtiError
from eduproject.lti.keys import SigningKey
from eduproject.lti.settings import LtiSettings

AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
SCOPE_LINEITEM = AGS + "lineitem"
SCOPE_SCORE = AGS + "score"
SCOPE_RESULT = AGS + "result.readonly"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_PAGES = 200
MAX_RETRIES = 3
MAX_WAIT_S = 60.0

# What to check for each OAuth error code of the token endpoint (RFC 6749 §5.2).
_TOKEN_ERRORS = {
    "invalid_client": "the LMS does not know this tool's key or client id: check [lti] "
    "client_id, that the tool's public key (lti-keys/jwks.json or public.pem) is the one "
    "registered in the LMS, and this machine's clock",
    "invalid_grant": "the LMS refused the signed request (expired, replayed or for another "
    "audience): check this machine's clock and [lti] audience",
    "invalid_scope": "the LMS does not let this tool use grades or the class list: enable "
    "Assignment and Grade Services (and Names and Role Provisioning) in the tool's settings",
    "unauthorized_client": "the tool may not use the client-credentials grant: check that it is "
    "an LTI 1.3 tool with services enabled, and deployed in this course",
    "unsupported_grant_type": "the LMS does not take the client-credentials grant at "
    "[lti] token_url: check that URL",
    "invalid_request": "the LMS found the token request malformed: check [lti] token_url",
}


def scores_url(lineitem: str) -> str:
    """The score endpoint of a line item: ``/scores`` after its path, before any query
    (Moodle's line item URLs carry ``?type_id=...``)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _message(response: httpx.Response) -> str:
    """The platform's own words about a failure, briefly."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:200]
    if isinstance(data, dict):
        for key in ("error_description", "message", "error", "errors", "reason"):
            if data.get(key):
                value = data[key]
                return (value if isinstance(value, str) else str(value))[:300]
    return str(data)[:200]


def _next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of a paged answer's Link header."""
    for part in response.headers.get("link", "").split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return url.strip().strip("<>")
    return None


class Platform:
    """One LMS course's services for the tool (``transport``: tests only)."""

    def __init__(
        self,
        settings: LtiSettings,
        key: SigningKey,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.key = key
        self.clock = clock
        self.sleep = sleep
        self._client = httpx.Client(timeout=30.0, transport=transport, follow_redirects=False)
        self._token: str | None = None
        self._token_until = 0.0
        self.scopes = [SCOPE_LINEITEM, SCOPE_SCORE]
        if settings.memberships and settings.roster is None:
            self.scopes.append(SCOPE_NRPS)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the access token ----------------------------------------------------------------

    def assertion(self) -> str:
        """The signed JWT that authenticates the tool at the token endpoint."""
        now = int(self.clock())
        return self.key.sign(
            {
                "iss": self.settings.client_id,
                "sub": self.settings.client_id,
                "aud": self.settings.aud,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            }
        )

    def token(self, *, fresh: bool = False) -> str:
        if not fresh and self._token and self.clock() < self._token_until:
            return self._token
        url = self.settings.token_url
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
            "scope": " ".join(self.scopes),
        }
        response = self._send("POST", url, "the token request", data=form)
        if response.status_code != 200:
            try:
                code = response.json().get("error", "")
            except (ValueError, AttributeError):
                code = ""
            hint = _TOKEN_ERRORS.get(code) or _status_hint(response.status_code, "token")
            raise LtiError(
                f"the LMS refused the tool's token request (HTTP {response.status_code}"
                f"{', ' + code if code else ''}): {_message(response)}",
                status=response.status_code,
                url=url,
                hint=hint,
            )
        data = self._json(response, "the token request")
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise LtiError(
                "the LMS's token answer has no access_token", url=url, hint="check [lti] token_url"
            )
        granted = set(str(data.get("scope") or " ".join(self.scopes)).split())
        if SCOPE_SCORE not in granted:
            raise LtiError(
                "the LMS gave a token without the score scope",
                url=url,
                hint=_TOKEN_ERRORS["invalid_scope"],
            )
        expires = data.get("expires_in")
        lifetime = float(expires) if isinstance(expires, (int, float)) else 3600.0
        self._token, self._token_until = token, self.clock() + max(0.0, lifetime - 30)
        return token

    # -- the services --------------------------------------------------------------------

    def line_items(self, *, resource_id: str | None = None, tag: str | None = None) -> list[Any]:
        """The course's line items (every page), filtered by the platform when it can."""
        params = {k: v for k, v in (("resource_id", resource_id), ("tag", tag)) if v}
        return self._pages(self.settings.lineitems, LINEITEMS, "the line items", params, None)

    def create_line_item(self, item: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "POST",
            self.settings.lineitems,
            "creating the line item",
            accept=LINEITEM,
            content_type=LINEITEM,
            json=item,
        )
        data = self._json(response, "creating the line item")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise LtiError(
                "the LMS created a line item but did not say its id (URL)",
                url=self.settings.lineitems,
                hint="check [lti] lineitems: it must be the course's line items URL",
            )
        return data

    def post_score(self, lineitem: str, score: dict[str, Any]) -> None:
        self._call(
            "POST",
            scores_url(lineitem),
            f"the score of {score.get('userId')}",
            accept=None,
            content_type=SCORE,
            json=score,
        )

    def members(self) -> list[Any]:
        """The course's members (Names and Role Provisioning Services), every page."""
        if not self.settings.memberships:
            raise LtiError(
                "no way to match learners to LMS users",
                hint="set [lti] memberships (the NRPS URL) or [lti] roster (a CSV file)",
            )
        return self._pages(self.settings.memberships, MEMBERSHIPS, "the class list", {}, "members")

    # -- plumbing ------------------------------------------------------------------------

    def _pages(
        self, url: str, accept: str, what: str, params: dict[str, str], key: str | None
    ) -> list[Any]:
        items: list[Any] = []
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                return items
            response = self._call("GET", next_url, what, accept=accept, params=params or None)
            params = {}  # the next link carries its own query
            data = self._json(response, what)
            page = data.get(key) if key is not None and isinstance(data, dict) else data
            if not isinstance(page, list):
                raise LtiError(
                    f"the LMS sent {what} in a shape this tool cannot read",
                    url=url,
                    hint="check the URL in [lti]: it must be the course's service URL",
                )
            items.extend(page)
            next_url = _next_link(response)
        raise LtiError(f"the LMS sent more than {MAX_PAGES} pages of {what}", url=url)

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        accept: str | None,
        content_type: str | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        import json as jsonlib

        headers = {"Accept": accept or "application/json"}
        body = None
        if json is not None:
            headers["Content-Type"] = content_type or "application/json"
            body = jsonlib.dumps(json).encode("utf-8")
        retried_auth = False
        for _ in range(MAX_RETRIES + 1):
            headers["Authorization"] = f"Bearer {self.token()}"
            response = self._send(method, url, what, headers=headers, content=body, params=params)
            if response.status_code == 401 and not retried_auth:
                retried_auth = True  # the token may have expired early: one fresh one
                self.token(fresh=True)
                continue
            if response.status_code == 429:
                self.sleep(_retry_after(response))
                continue
            if response.status_code >= 400:
                raise LtiError(
                    f"the LMS refused {what} (HTTP {response.status_code}): {_message(response)}",
                    status=response.status_code,
                    url=url,
                    hint=_status_hint(response.status_code, what),
                )
            return response
        raise LtiError(
            f"the LMS kept refusing {what} (HTTP {response.status_code})",
            status=response.status_code,
            url=url,
            hint=_status_hint(response.status_code, what),
        )

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise LtiError(
                f"cannot reach the LMS for {what} at {url}: {type(exc).__name__}",
                url=url,
                hint="check the URL in [lti] and this machine's network",
            ) from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise LtiError(
                f"the LMS answered {what} with something that is not JSON "
                f"({response.headers.get('content-type', 'no content type')})",
                status=response.status_code,
                url=str(response.request.url),
                hint="check the URL in [lti]: a login page or a proxy may be answering instead",
            ) from None


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return min(MAX_WAIT_S, max(0.0, float(value)))
    except ValueError:
        return 5.0


def _status_hint(status: int, what: str) -> str:
    if status == 400 or status == 422:
        return "the LMS's message says what it did not accept; report it if it looks like a bug"
    if status == 401:
        return "the LMS no longer accepts the tool's token: check the tool's key and client id"
    if status == 403:
        return (
            "the tool may not do this in this course: enable Assignment and Grade Services "
            "(and Names and Role Provisioning) and deploy the tool in the course"
        )
    if status == 404:
        return "the URL is wrong or the item was deleted: check [lti] lineitems / memberships"
    if status == 406 or status == 415:
        return "the LMS does not speak LTI Advantage at this URL: check the URL in [lti]"
    if status == 429:
        return "the LMS is rate-limiting the tool: run `eduproject lti sync` again later"
    if status >= 500:
        return "the LMS failed; nothing is lost: run `eduproject lti sync` again later"
    return f"check the URL in [lti] used for {what}"
