"""Routes only the settling leader serves, forwarded there by every other process.

Several processes share one store (``settlement serve --workers N``, or replicas behind a load
balancer), and any of them may receive any request. Accepting and reading payments works in
each. Some routes send transactions from the operator's key: the faucet, channel openings and
top-ups, net deposits, and a flush of the settlement windows. Sent from a process that does not
hold the settling lease, they would take nonces the leader's relayer is using. So a follower
passes those requests, unchanged, to the leader's address from the lease, and relays the answer.

A forwarded request carries ``FORWARDED_HEADER``; a process that receives one without leading
(leadership moved on the way) answers 503 rather than forwarding again, and so does a follower
when no leader holds the lease (an election under way). The client resends, which is safe: each
of these routes is keyed by its caller's signature nonce or is idempotent to retry.
"""

from __future__ import annotations

import re
import time

import httpx
from fastapi import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from settlement.api.inputs import read_body
from settlement.leadership import Leadership

LEADER_ONLY_PATHS = re.compile(
    r"^/v1/(faucet|windows/flush|channels|channels/0x[0-9a-fA-F]{64}/top-ups|net/deposits)$"
)
FORWARDED_HEADER = "x-settlement-forwarded-by"
# Long enough for the leader to wait for its transactions' receipts.
FORWARD_TIMEOUT_S = 180.0
ELECTION_RETRY_AFTER_S = 2
# Hop-by-hop and recomputed headers are not passed on.
NOT_FORWARDED = frozenset({"host", "content-length", "connection", "transfer-encoding"})
RELAYED = ("content-type", "retry-after")


class LeaderRoutes:
    """Serves ``LEADER_ONLY_PATHS`` here when this process leads, else at the leader."""

    def __init__(self, app: ASGIApp, leadership: Leadership) -> None:
        self.app = app
        self.leadership = leadership
        self._http: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not LEADER_ONLY_PATHS.match(scope["path"])
            or self.leadership.is_leading()
        ):
            await self.app(scope, receive, send)
            return
        response = await self._at_leader(scope, receive)
        await response(scope, receive, send)

    async def _at_leader(self, scope: Scope, receive: Receive) -> Response:
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        if FORWARDED_HEADER in headers:
            return _unavailable("leadership moved while this request was forwarded")
        holder = await self.leadership.leases.holder(self.leadership.name)
        if holder is None or not holder.live(time.time()) or holder.address is None:
            return _unavailable("no process leads settlement at the moment (an election)")
        try:
            body = await read_body(receive)
        except HTTPException as refusal:
            return JSONResponse({"detail": refusal.detail}, status_code=refusal.status_code)
        query = scope.get("query_string", b"").decode()
        url = f"{holder.address}{scope['path']}" + (f"?{query}" if query else "")
        forwarded = {k: v for k, v in headers.items() if k not in NOT_FORWARDED}
        forwarded[FORWARDED_HEADER] = self.leadership.owner
        try:
            answer = await self._client().post(url, content=body, headers=forwarded)
        except httpx.HTTPError as error:
            return _unavailable(f"the leader did not answer ({type(error).__name__})")
        relayed = {name: answer.headers[name] for name in RELAYED if name in answer.headers}
        return Response(answer.content, status_code=answer.status_code, headers=relayed)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S)
        return self._http


def _unavailable(why: str) -> Response:
    return JSONResponse(
        {"detail": f"{why}; resend the same request"},
        status_code=503,
        headers={"Retry-After": str(ELECTION_RETRY_AFTER_S)},
    )
