"""An open-loop HTTP load generator on asyncio (one thread, keep-alive connections).

Requests are scheduled at a fixed rate, whatever the server does; each one's latency runs from
its scheduled send time to the end of its response, so a server that stalls is charged for the
queue that builds behind it (no coordinated omission). When every open connection is busy a new
one is opened, up to ``max_connections``; beyond that requests wait (and that wait counts).

Cheap enough to share the machine with the server under test: a few tens of microseconds of CPU
per request (the benchmark prints what it used).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.closed = False  # the server said "Connection: close"
        self.idle_since = 0.0

    async def get(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await self.reader.readexactly(length)
        self.closed = close
        return status


async def _run(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    next_request: Callable[[int], tuple[str, str]],
    headers: dict[str, str],
    max_connections: int,
    idle_timeout: float,
) -> dict:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    idle: list[_Conn] = []
    opened = [0]  # connections open or being opened
    waiters: list[asyncio.Future] = []  # requests waiting for a connection, first come first
    results: dict[str, list[float]] = {}
    errors, retried = [0], [0]
    kinds: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    start = loop.time() + 0.2

    async def connection() -> _Conn:
        while idle:
            conn = idle.pop()
            if loop.time() - conn.idle_since < idle_timeout:
                return conn
            # Idle longer than the server keeps it: like a pooled HTTP client, drop it.
            conn.writer.close()
            opened[0] -= 1
        if opened[0] < max_connections:
            opened[0] += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                opened[0] -= 1
                raise
            return _Conn(reader, writer)
        waiter = loop.create_future()
        waiters.append(waiter)
        return await waiter

    def hand_over(conn: _Conn) -> None:
        conn.idle_since = loop.time()
        while waiters:
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(conn)
                return
        idle.append(conn)

    async def replace() -> None:
        # A connection closed while requests wait for one: open its successor for them.
        opened[0] += 1
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            opened[0] -= 1
            while waiters:
                waiter = waiters.pop(0)
                if not waiter.done():
                    waiter.set_exception(exc)
                    return
            return
        hand_over(_Conn(reader, writer))

    def discard(conn: _Conn) -> None:
        conn.writer.close()
        opened[0] -= 1
        if waiters:
            loop.create_task(replace())

    def release(conn: _Conn) -> None:
        if conn.closed:
            discard(conn)
        else:
            hand_over(conn)

    async def one(i: int, due: float) -> None:
        key, path = next_request(i)
        raw = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
        # A kept-alive connection the server has just closed fails before any answer: like any
        # HTTP client, send the (idempotent) GET again (twice at most).
        for attempt in (1, 2, 3):
            conn = None
            try:
                conn = await connection()
                status = await conn.get(raw)
                if status != 200:
                    errors[0] += 1
                    kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + 1
                release(conn)
                break
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                if conn is not None:
                    discard(conn)
                stale = isinstance(exc, asyncio.IncompleteReadError) and not exc.partial
                if attempt < 3 and (stale or isinstance(exc, ConnectionResetError)):
                    retried[0] += 1
                    continue
                errors[0] += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                break
        results.setdefault(key, []).append(loop.time() - due)

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.writer.close()
    return {
        "latencies": results,
        "errors": errors[0],
        "error_kinds": kinds,
        "retried": retried[0],
        "connections": opened[0],
    }


def run_load(
    url: str,
    rate: float,
    seconds: float,
    next_request: Callable[[int], tuple[str, str]],
    headers: dict[str, str] | None = None,
    max_connections: int = 64,
    idle_timeout: float = 1.5,
) -> dict:
    """``rate`` requests a second for ``seconds`` against ``url`` (``http://host:port``);
    ``next_request(i)`` gives the i-th request's (label, path). Returns latencies (seconds) by
    label, the error count (and kinds), requests sent again on a fresh connection, connections
    opened and the generator's own CPU seconds. A connection idle for ``idle_timeout`` seconds
    is not reused (gunicorn closes kept-alive connections after 2 s)."""
    host, port = url.split("//", 1)[1].rstrip("/").split(":")
    cpu = time.process_time()
    out = asyncio.run(
        _run(
            host,
            int(port),
            rate,
            seconds,
            next_request,
            headers or {},
            max_connections,
            idle_timeout,
        )
    )
    out["client_cpu_s"] = time.process_time() - cpu
    return out
