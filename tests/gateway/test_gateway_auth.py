"""Token auth on every route of a real uvicorn server: 401 without detail, roles, revocation."""

from __future__ import annotations

import httpx
import pytest

from .gateway_support import CODE, LESSON, StartGateway, bearer

ROUTES = [
    ("POST", "/v1/hint"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/explain-error"),
    ("POST", "/v1/ask"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/me"),
    ("GET", "/admin/summary"),
    ("GET", "/no/such/route"),
    ("DELETE", "/v1/me"),
]
HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}


def test_every_route_needs_a_valid_token(start_gateway: StartGateway) -> None:
    with start_gateway(model=False) as gw, httpx.Client(base_url=gw.url) as anon:
        wrong = gw.tokens["ada"][:-2] + "xx"
        headers_tried = [
            {},
            bearer(wrong),
            {"Authorization": "Bearer"},
            {"Authorization": gw.tokens["ada"]},  # no scheme
            {"Authorization": f"Basic {gw.tokens['ada']}"},
            bearer("x" * 5000),
        ]
        for method, path in ROUTES:
            for headers in headers_tried:
                response = anon.request(method, path, headers=headers, json=HINT)
                assert response.status_code == 401, (method, path, headers.keys())
                # The same body whatever was wrong: nothing to learn from it.
                assert response.content == b'{"error":"unauthorized"}'
                assert response.headers["www-authenticate"] == "Bearer"
        assert gw.fake is None


def test_valid_tokens_reach_only_their_own_routes(start_gateway: StartGateway) -> None:
    with start_gateway(model=False) as gw:
        with gw.client("ada") as ada:
            assert ada.get("/v1/me").status_code == 200
            assert ada.get("/admin/summary").status_code == 403
            assert ada.get("/no/such/route").status_code == 404
        with gw.client("admin") as admin:
            assert admin.get("/admin/summary").status_code == 200
            assert admin.post("/v1/hint", json=HINT).status_code == 403
            assert admin.get("/v1/me").status_code == 403


def test_a_revoked_token_stops_working_at_once(start_gateway: StartGateway) -> None:
    with start_gateway(model=False) as gw, gw.client("bob") as bob:
        assert bob.get("/v1/me").status_code == 200
        assert gw.service.tokens.revoke("bob") == 1
        assert bob.get("/v1/me").status_code == 401
        with gw.client("ada") as ada:
            assert ada.get("/v1/me").status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_case_insensitive(start_gateway: StartGateway, scheme: str) -> None:
    with start_gateway(model=False) as gw, httpx.Client(base_url=gw.url) as anon:
        response = anon.get("/v1/me", headers={"Authorization": f"{scheme} {gw.tokens['ada']}"})
        assert response.status_code == 200
        assert response.json()["learner"] == "ada"
