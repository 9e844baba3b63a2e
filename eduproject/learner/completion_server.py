"""The Jupyter server extension behind the JupyterLab inline completer (``eduproject-completer``).

Enabled for every Jupyter server of the environment eduproject is installed in (the
``jupyter_server_config.d/eduproject.json`` file the package installs). Routes, under the
server's base URL, all needing the user's Jupyter login:

=======================================  ===================================================
``GET  eduproject/complete/policy``      ``?path=NB&lesson=ID``: where completion is off
``POST eduproject/complete``             ``{path, client, prefix, suffix, above, below,
                                         lesson, exercise, role}`` -> ``{text, attempt_id,
                                         label, route, latency_s, cached, problem}``; 403 with
                                         the reason where the policy turns it off; 204 when a
                                         newer request of the same ``client`` replaced it
``POST eduproject/complete/cancel``      ``{client}``: stop its request in flight (a keystroke)
``POST eduproject/complete/accept``      ``{path, attempt_id}``: the learner pressed Tab
=======================================  ===================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from eduproject.completion.context import BadCompletionRequest, parse_input
from eduproject.learner.completion_backends import Backend, Reply, answer, backend_from_env

MAX_CLIENT_CHARS = 64


class _Handler(APIHandler):
    backend: Backend

    def initialize(self, backend: Backend) -> None:
        self.backend = backend

    def reply(self, result: Reply | None) -> None:
        if result is None:
            self.set_status(204)
            self.finish()
            return
        status, body = result
        self.set_status(status)
        self.finish(json.dumps(body))

    def body_object(self) -> dict[str, Any]:
        data = self.get_json_body()
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the request body must be a JSON object")
        return data

    def string(self, data: dict[str, Any], key: str, limit: int = 4096) -> str:
        value = data.pop(key, None)
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            raise web.HTTPError(422, f"field {key!r} must be a string of 1 to {limit} characters")
        return value


class CompleteHandler(_Handler):
    @web.authenticated
    async def post(self) -> None:
        data = self.body_object()
        path, client = self.string(data, "path"), self.string(data, "client", MAX_CLIENT_CHARS)
        try:
            inp = parse_input(data)
        except BadCompletionRequest as exc:
            self.reply((422, {"error": str(exc)}))
            return
        self.reply(await answer(lambda: self.backend.complete(path, inp, client)))


class CancelHandler(_Handler):
    @web.authenticated
    async def post(self) -> None:
        self.backend.inflight.cancel(self.string(self.body_object(), "client", MAX_CLIENT_CHARS))
        self.reply(None)


class AcceptHandler(_Handler):
    @web.authenticated
    async def post(self) -> None:
        data = self.body_object()
        path, attempt_id = self.string(data, "path"), data.get("attempt_id")
        if isinstance(attempt_id, bool) or not isinstance(attempt_id, int):
            raise web.HTTPError(422, "field 'attempt_id' must be an integer")
        self.reply(await answer(lambda: self.backend.accept(path, attempt_id)))


class PolicyHandler(_Handler):
    @web.authenticated
    async def get(self) -> None:
        path = self.get_query_argument("path")
        lesson = self.get_query_argument("lesson", None) or None

        async def policy() -> Reply:
            return 200, self.backend.policy(path, lesson)

        self.reply(await answer(policy))


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "eduproject.learner.completion_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    backend = backend_from_env(Path(serverapp.root_dir))
    base = url_path_join(serverapp.web_app.settings["base_url"], "eduproject", "complete")
    options = {"backend": backend}
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (base, CompleteHandler, options),
            (url_path_join(base, "cancel"), CancelHandler, options),
            (url_path_join(base, "accept"), AcceptHandler, options),
            (url_path_join(base, "policy"), PolicyHandler, options),
        ],
    )
    serverapp.log.info("eduproject: inline completion via %r", backend)
