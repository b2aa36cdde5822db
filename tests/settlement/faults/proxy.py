"""A TCP proxy in front of Anvil that breaks the service's chain connection on command."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlparse

PIPE_CHUNK = 65_536


class FaultProxy:
    """Forwards connections to the chain, except that it can cut every open connection
    (``cut``), refuse the next new ones (``refuse_next``), hold back answers (``delay_s``) and
    hold back requests for a while (``held``). ``faults`` counts the connections it cut or
    refused and the requests it delayed."""

    def __init__(self, target_url: str) -> None:
        target = urlparse(target_url)
        assert target.hostname is not None
        assert target.port is not None
        self._target = (target.hostname, target.port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._refusals = 0
        self.delay_s = 0.0
        self.faults = 0
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> int:
        """Close every open connection, as a network blip would; how many were cut."""
        cut = len(self._open)
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        self.faults += cut
        return cut

    def retarget(self, target_url: str) -> None:
        """Send new connections to another chain (a restarted Anvil), cutting the open ones."""
        target = urlparse(target_url)
        assert target.hostname is not None
        assert target.port is not None
        self._target = (target.hostname, target.port)
        self.cut()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold every request until the block ends (answers to those already sent still
        arrive): the chain sees no traffic from the service meanwhile, though the service keeps
        sending."""
        self._flowing.clear()
        try:
            yield
        finally:
            self._flowing.set()

    def refuse_next(self, connections: int) -> None:
        self._refusals = connections

    def heal(self) -> None:
        """Stop refusing and delaying; open connections stay as they are."""
        self._refusals = 0
        self.delay_s = 0.0

    async def _handle(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._refusals > 0:
            self._refusals -= 1
            self.faults += 1
            client.transport.abort()
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self._target)
        except OSError:
            client.transport.abort()
            return
        self._open.update({client, upstream})
        await asyncio.gather(
            self._pipe(client_reader, upstream, request=True),
            self._pipe(upstream_reader, client, request=False),
        )
        self._open.difference_update({client, upstream})

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, request: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(PIPE_CHUNK):
                if request:
                    await self._flowing.wait()
                elif self.delay_s > 0:
                    self.faults += 1
                    await asyncio.sleep(self.delay_s)
                writer.write(chunk)
                await writer.drain()
        writer.transport.abort()
