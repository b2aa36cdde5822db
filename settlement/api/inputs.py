"""Checks on request values that pydantic's patterns cannot express, and on request sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Path
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settlement.api.models import ErrorOut
from settlement.domain.addresses import to_checksummed
from settlement.errors import PaymentRejectedError

# The largest valid payment (a direct one: 1 KiB of signed transaction as 2 KiB of hex, plus the
# intent) is under 3 KiB of JSON; a body of many times that is no payment at all.
MAX_BODY_BYTES = 64 * 1024
# Routes that take up to 1,000 items (payments, ids, grants) in one body.
BULK_PATHS = frozenset({"/v1/payments/batch", "/v1/payments/lookup", "/v1/faucet"})
MAX_BULK_BODY_BYTES = 4 * 1024 * 1024
# Every route can meet it (the limit applies to any request with a body), so the app declares it.
TOO_LARGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The request body is larger than this route takes"}
}

# Payment and channel ids in paths: 32 bytes as 0x-hex.
Bytes32Path = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]
# Addresses in paths: malformed ones are 422 like any malformed input; a wrong checksum is 400.
AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]


def checked_address(value: str, role: str) -> str:
    """A checksummed address; mixed case must carry a valid EIP-55 checksum, else
    ``PaymentRejectedError`` says why."""
    try:
        checksummed = to_checksummed(value)
    except ValueError:
        raise PaymentRejectedError(f"{role} {value!r} is not a 20-byte hex address") from None
    hex_part = value[2:]
    if hex_part in (hex_part.lower(), hex_part.upper()) or value == checksummed:
        return checksummed
    raise PaymentRejectedError(f"{role} {value} has a wrong EIP-55 checksum")


def path_address(value: str, role: str) -> str:
    """An address from a path (its shape already checked): a wrong checksum is a 400."""
    try:
        return checked_address(value, role)
    except PaymentRejectedError as rejection:
        raise HTTPException(400, detail=str(rejection)) from None


def body_limit_for(path: str) -> int:
    return MAX_BULK_BODY_BYTES if path in BULK_PATHS else MAX_BODY_BYTES


def too_large(limit: int) -> str:
    return f"the request body is larger than the {limit:,} bytes this route takes"


async def read_body(receive: Receive) -> bytes:
    """A request's whole body, for the pure-ASGI routes (``HTTPException`` 413 past the route's
    limit, from ``BodySizeLimit``; 400 if the client left before sending it)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise HTTPException(400, detail="the request body did not arrive")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodySizeLimit:
    """Answers 413 with a reason to a request body over its route's limit, before parsing it.

    A declared ``Content-Length`` over the limit is refused without reading a byte; a body sent
    without one (chunked) is counted as it arrives, and refused once it passes the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await JSONResponse({"detail": too_large(limit)}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # Raised while FastAPI reads the body: it answers an HTTPException as is.
                raise HTTPException(413, detail=too_large(limit))
            return message

        await self.app(scope, counted, send)
