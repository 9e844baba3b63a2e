"""Listening sockets for the local web servers (the gateway, the manual-grading page)."""

from __future__ import annotations

import socket

from eduproject.errors import ConfigError

__all__ = ["listen"]


def listen(host: str, port: int, *, backlog: int = 64, hint: str = "") -> socket.socket:
    """A non-blocking listening TCP socket on ``host:port`` (port 0: any free port).

    A port that cannot be bound is a :class:`ConfigError` naming it, with ``hint``.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on connections accepted
    # from such a socket, and with Nagle on, every small SSE write on a kept-alive connection
    # waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint=hint or "pick another --port (0: any free one), or stop whatever uses this one",
        ) from None
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
