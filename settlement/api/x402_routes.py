"""x402's facilitator routes, as its HTTP facilitator client calls them: ``{url}/supported``,
``{url}/verify`` and ``{url}/settle`` with ``url`` = this service's ``/x402``.

A refused payment is an answer, not an error: verify and settle answer 200 with x402's
``isValid: false`` or ``success: false`` and the reason, as x402 facilitators do (its client
turns any other status into a failed request). A body that is not an x402 request at all is a
400 with what is wrong.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from x402.schemas import SettleRequest, VerifyRequest

from settlement.x402.facilitator import Facilitator

x402_router = APIRouter(prefix="/x402", tags=["x402"])
RequestModel = TypeVar("RequestModel", VerifyRequest, SettleRequest)


async def _facilitator(request: Request) -> Facilitator:
    facilitator: Facilitator = request.app.state.x402
    return facilitator


X402 = Annotated[Facilitator, Depends(_facilitator)]


@x402_router.get("/supported")
async def supported(facilitator: X402) -> dict[str, Any]:
    """The schemes and networks this facilitator settles: ``exact`` on this chain."""
    return _wire(facilitator.supported())


@x402_router.post("/verify")
async def verify(request: Request, facilitator: X402) -> dict[str, Any]:
    """Whether a payment payload would be paid: x402's ``VerifyResponse``. Nothing is stored."""
    body = await _body(request, VerifyRequest)
    return _wire(await facilitator.verify(body))


@x402_router.post("/settle")
async def settle(request: Request, facilitator: X402) -> dict[str, Any]:
    """Pay a payment payload, once however often asked: x402's ``SettleResponse``."""
    body = await _body(request, SettleRequest)
    return _wire(await facilitator.settle(body))


async def _body(request: Request, model: type[RequestModel]) -> RequestModel:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors()[:3]
        )
        raise HTTPException(400, detail=f"not an x402 {model.__name__}: {problems}") from None


def _wire(answer: BaseModel) -> dict[str, Any]:
    """x402's JSON: camelCase, absent fields left out."""
    return answer.model_dump(mode="json", by_alias=True, exclude_none=True)
