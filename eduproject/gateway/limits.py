"""Connection limits of the gateway: no one, with or without a token, can lock learners out.

uvicorn gives every connection a file descriptor and waits for request headers forever, so
1,100 half-open connections -- or a few hundred that send a byte a minute -- exhaust a
process's 1,024 open files and block every learner. :class:`LimitedHTTPProtocol` is
uvicorn's own HTTP protocol with four limits (``[gateway]`` settings, see ``settings.py``):

* ``header_timeout_s``: a connection that has not sent a request's headers within this time
  of opening (or of the first byte of a later request on it) gets ``408`` and is closed,
  however slowly bytes trickle in; idle kept-alive connections follow uvicorn's keep-alive;
* ``max_pending_per_address``: connections from one address still sending headers;
* ``max_connections_per_address``: connections from one address (an IPv6 /64 counts as one);
* ``max_connections``: connections of the process, never more than its file limit allows
  (:func:`raise_file_limit` raises the soft limit to the hard one first).

A connection over a cap gets ``503`` and is closed at once, before anything is read. Every
count is per process (``--workers N``: N times the caps).

    install(ConnectionLimits.from_settings(settings))
    uvicorn.Config(app, http=LimitedHTTPProtocol, ...)
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import resource
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["ConnectionLimits", "LimitedHTTPProtocol", "install", "raise_file_limit"]

# Files the process needs besides connections: SQLite, the model servers, logs, threads.
RESERVED_FILES = 128
_RAISE_TO = 65536


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    max_connections: int = 4096
    max_connections_per_address: int = 1024  # 0: no cap
    max_pending_per_address: int = 32  # 0: no cap

    @classmethod
    def from_settings(cls, settings: Any) -> ConnectionLimits:
        return cls(
            header_timeout_s=settings.header_timeout_s,
            max_connections=settings.max_connections,
            max_connections_per_address=settings.max_connections_per_address,
            max_pending_per_address=settings.max_pending_per_address,
        )

    def effective_max_connections(self) -> int:
        """``max_connections``, or fewer if the process may not open that many files."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - RESERVED_FILES))


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files towards its hard limit; the new soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _RAISE_TO if hard == resource.RLIM_INFINITY else min(hard, _RAISE_TO)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


class _Guard:
    """The counts of one process, and the limits they are held to."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.max_connections = limits.effective_max_connections()
        self.total = 0
        self.open: Counter[str] = Counter()
        self.pending: Counter[str] = Counter()

    def refusal(self, address: str) -> str | None:
        """Why a new connection from ``address`` is refused, or None."""
        limits = self.limits
        if self.total >= self.max_connections:
            return "the tutor service has too many connections; try again in a minute"
        cap = limits.max_connections_per_address
        if cap and self.open[address] >= cap:
            return f"too many connections from your address (at most {cap})"
        cap = limits.max_pending_per_address
        if cap and self.pending[address] >= cap:
            return f"too many unfinished requests from your address (at most {cap})"
        return None


_guard = _Guard(ConnectionLimits())


def install(limits: ConnectionLimits) -> None:
    """Use ``limits`` for the connections this process accepts from now on."""
    global _guard
    _guard = _Guard(limits)


def _address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if not isinstance(peer, tuple) or not peer:
        return "local"
    try:
        ip = ipaddress.ip_address(peer[0])
    except ValueError:
        return str(peer[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))  # one host, many addresses
    return str(ip)


def _answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class LimitedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[valid-type,misc]
    """uvicorn's HTTP/1.1 protocol (h11 or httptools) with the limits of :func:`install`."""

    _guard_of: _Guard | None = None
    _address_key = ""
    _pending = False
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        guard = _guard
        address = _address(transport)
        refusal = guard.refusal(address)
        if refusal is not None:
            transport.write(_answer(503, "Service Unavailable", refusal))
            transport.close()
            return
        self._guard_of, self._address_key = guard, address
        guard.total += 1
        guard.open[address] += 1
        self._wait_for_headers()

    def data_received(self, data: bytes) -> None:
        if self._guard_of is None:
            return  # refused: nothing is read
        super().data_received(data)
        if self._waiting_for_headers():
            self._wait_for_headers()  # bytes of a new request on a kept-alive connection
        else:
            self._headers_arrived()

    def connection_lost(self, exc: Exception | None) -> None:
        guard = self._guard_of
        if guard is not None:
            self._headers_arrived()
            guard.total -= 1
            guard.open[self._address_key] -= 1
            if guard.open[self._address_key] <= 0:
                del guard.open[self._address_key]
            self._guard_of = None
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or bool(getattr(cycle, "response_complete", False))

    def _wait_for_headers(self) -> None:
        if self._pending or self._guard_of is None:
            return
        self._pending = True
        self._guard_of.pending[self._address_key] += 1
        timeout = self._guard_of.limits.header_timeout_s
        self._header_timer = asyncio.get_running_loop().call_later(timeout, self._too_slow)

    def _headers_arrived(self) -> None:
        if not self._pending or self._guard_of is None:
            return
        self._pending = False
        pending = self._guard_of.pending
        pending[self._address_key] -= 1
        if pending[self._address_key] <= 0:
            del pending[self._address_key]
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._waiting_for_headers():
            return
        assert self._guard_of is not None
        timeout = self._guard_of.limits.header_timeout_s
        message = f"the request headers did not arrive within {timeout:g} s"
        self.transport.write(_answer(408, "Request Timeout", message))
        self.transport.close()
