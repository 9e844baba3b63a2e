"""Running the gateway: uvicorn over the Starlette app, on a socket bound up front.

Binding first means ``--port 0`` works (the kernel picks a free port) and the address
printed is the one really listened on::

    service = TutorService.from_course(Path("course"))
    serve(service, host="127.0.0.1", port=8765)      # until Ctrl+C / SIGTERM
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import uvicorn

from eduproject.errors import ConfigError
from eduproject.gateway.app import create_app
from eduproject.gateway.service import TutorService

log = logging.getLogger("eduproject.gateway")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick another --port, or stop whatever uses this one",
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def make_server(service: TutorService, *, access_log: bool = False) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(service),
        log_level="info",
        access_log=access_log,
        server_header=False,
        lifespan="off",
        # Connections of learners between two questions; the benchmark's 500 keep theirs.
        timeout_keep_alive=75,
    )
    return uvicorn.Server(config)


def serve(
    service: TutorService,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    access_log: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until interrupted; ``on_ready(url)`` is called once the socket listens."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{actual}"
    server = make_server(service, access_log=access_log)
    if on_ready is not None:
        on_ready(url)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.close()
