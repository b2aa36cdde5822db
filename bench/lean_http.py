"""A lean HTTP/1.1 client for load tests: keep-alive connections, requests built once, C parsing.

httpx spent about 9 ms of CPU per request here, so a load test on a 2-core machine measured its
own client rather than the service (it could not offer 300 requests/s). This client keeps a pool
of open connections, writes request bytes prepared before the clock starts and parses answers
with httptools (the parser uvicorn uses): tens of microseconds a request.

It speaks only what the load test needs: POST with a JSON body, one request at a time per
connection, ``Content-Length`` answers (uvicorn's for JSON).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools


class LeanHttpError(Exception):
    """No complete answer: the connection failed or closed, or the answer timed out."""


@dataclass(frozen=True)
class LeanAnswer:
    status: int
    body: bytes
    # The event loop's clock when the request was written, after waiting for a connection.
    sent_at: float

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._answer: asyncio.Future[LeanAnswer] | None = None
        self._sent_at = 0.0
        self.closed = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(LeanHttpError(f"unparsable answer: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(LeanHttpError(f"connection closed: {exc or 'by the server'}"))

    # httptools callbacks

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer, self._answer = self._answer, None
        body, self._body = b"".join(self._body), []
        if answer is not None and not answer.done():
            answer.set_result(LeanAnswer(self._parser.get_status_code(), body, self._sent_at))

    # the client's side

    def send(self, request: bytes) -> asyncio.Future[LeanAnswer]:
        assert self._answer is None, "one request at a time per connection"
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._sent_at = loop.time()
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        answer, self._answer = self._answer, None
        if answer is not None and not answer.done():
            answer.set_exception(error)


class LeanHttpPool:
    """At most ``connections`` keep-alive connections to one ``http://host:port``."""

    def __init__(self, base_url: str, connections: int, timeout_s: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean client speaks plain http only, not {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._host_header = parts.netloc.encode()
        self._timeout_s = timeout_s
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(connections)
        self._open: set[_Connection] = set()

    def post_request(self, path: str, body: bytes) -> bytes:
        """The bytes of a JSON POST, built once and sent as they are."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header.decode()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, request: bytes) -> LeanAnswer:
        """Send prepared request bytes on a free connection; the answer, or ``LeanHttpError``."""
        async with self._slots:
            connection = await self._connection()
            try:
                answer = await asyncio.wait_for(connection.send(request), self._timeout_s)
            except BaseException as error:
                # A connection left mid-answer cannot carry the next request.
                connection.close()
                self._open.discard(connection)
                if isinstance(error, TimeoutError):
                    raise LeanHttpError(f"no answer within {self._timeout_s:g} s") from None
                raise
            if connection.closed:
                self._open.discard(connection)
            else:
                self._idle.put_nowait(connection)
            return answer

    async def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._open.clear()

    async def __aenter__(self) -> LeanHttpPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connection(self) -> _Connection:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if not connection.closed:
                return connection
            self._open.discard(connection)
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_connection(_Connection, self._host, self._port)
        except OSError as error:
            raise LeanHttpError(f"cannot connect: {error}") from None
        self._open.add(protocol)
        return protocol
