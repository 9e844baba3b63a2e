"""Running the gateway: uvicorn over the Starlette app, on a socket bound up front.

Binding first means ``--port 0`` works (the kernel picks a free port) and the address
printed is the one really listened on. One process holds one GIL, so one process uses at
most one core; ``workers > 1`` starts that many processes on the same socket. They share
everything that must be shared through SQLite (tokens, allowances -- one atomic ``UPDATE``
per question --, calls, ledger, cache); each has its own router, so a failing route cools
down per process::

    serve(Path("course"), host="127.0.0.1", port=8765, workers=2)   # until Ctrl+C / SIGTERM

Started by JupyterHub (``c.JupyterHub.services``), it takes its address, its URL prefix and
its identities from the hub's environment (``hub.py``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from eduproject.errors import ConfigError
from eduproject.gateway.app import create_app
from eduproject.gateway.hub import HubLogin
from eduproject.gateway.limits import (
    ConnectionLimits,
    LimitedHTTPProtocol,
    install,
    raise_file_limit,
)
from eduproject.gateway.service import TutorService
from eduproject.util.net import listen

log = logging.getLogger("eduproject.gateway")

# Tutor calls hand text between threads (router loop -> worker -> event loop) while other
# workers run the guards; a shorter GIL switch interval keeps each hand-off from queueing
# behind a busy thread for the default 5 ms.
SWITCH_INTERVAL_S = 0.001
# How `serve` tells its worker processes what to serve (they start afresh: spawn).
ENV_COURSE = "EDUPROJECT_GATEWAY_COURSE"
ENV_DB = "EDUPROJECT_GATEWAY_DB"
DEFAULT_PORT = 8765


def configure_process() -> None:
    """Logging, GIL and open-file settings of a serving process."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per model request is noise
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    raise_file_limit()  # connections are files: 1,024 is too few for a class


def _config(app: Starlette | str, *, access_log: bool, workers: int = 1) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        log_level="info",
        access_log=access_log,
        server_header=False,
        lifespan="on" if isinstance(app, str) else "off",
        # Learners' connections live on between two questions.
        timeout_keep_alive=75,
        http=LimitedHTTPProtocol,  # header timeout, connection caps (limits.py)
    )


def make_server(service: TutorService, *, access_log: bool = False) -> uvicorn.Server:
    """A uvicorn server for ``service`` in this process (tests run it in a thread)."""
    install(ConnectionLimits.from_settings(service.settings))
    return uvicorn.Server(_config(create_app(service), access_log=access_log))


def hub_login(service: TutorService) -> HubLogin | None:
    """The hub's identities when JupyterHub started this process as a service, else None."""
    return HubLogin.from_environment(admin_groups=service.settings.admin_groups)


def app_from_environment() -> Starlette:
    """The app of one worker process (uvicorn calls this; :func:`serve` sets the variables)."""
    configure_process()
    db = os.environ.get(ENV_DB)
    service = TutorService.from_course(
        Path(os.environ[ENV_COURSE]), db_path=Path(db) if db else None
    )
    install(ConnectionLimits.from_settings(service.settings))
    return create_app(service, owns_service=True, hub=hub_login(service))


def serve(
    course_dir: Path,
    *,
    db_path: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int = 1,
    access_log: bool = False,
    on_ready: Callable[[str, TutorService, HubLogin | None], None] | None = None,
) -> None:
    """Serve the course until interrupted; ``on_ready(url, service, hub)`` once the socket
    listens.

    Started by JupyterHub as a service, it listens where the hub says (the service's ``url``,
    unless ``host``/``port`` are given) and answers under ``/services/<name>/`` with the
    hub's identities. Every setting is checked (lessons, routes, database) before anything
    listens.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}", hint="use 1 or more")
    configure_process()
    service = TutorService.from_course(course_dir, db_path=db_path)
    install(ConnectionLimits.from_settings(service.settings))
    try:
        hub = hub_login(service)
        hub_address = hub.env.listen_address() if hub is not None else None
    except BaseException:
        service.close()
        raise
    if hub_address is not None:
        host = host or hub_address[0]
        port = hub_address[1] if port is None else port
    host = host or "127.0.0.1"
    port = DEFAULT_PORT if port is None else port
    try:
        sock = listen(
            host, port, backlog=2048, hint="pick another --port, or stop whatever uses this one"
        )
    except BaseException:
        service.close()
        raise
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    if hub is not None:
        url += hub.prefix.rstrip("/")
    try:
        if on_ready is not None:
            on_ready(url, service, hub)
        if workers == 1:
            app = create_app(service, hub=hub)
            uvicorn.Server(_config(app, access_log=access_log)).run(sockets=[sock])
            return
        service.close()  # each worker process builds its own
        os.environ[ENV_COURSE] = str(course_dir)
        if db_path is not None:
            os.environ[ENV_DB] = str(db_path)
        config = _config(f"{__name__}:app_from_environment", access_log=access_log, workers=workers)
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        service.close()
