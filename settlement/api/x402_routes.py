"""x402's facilitator routes, as its HTTP facilitator client calls them: ``{url}/supported``,
``{url}/verify`` and ``{url}/settle`` with ``url`` = this service's ``/x402``.

A refused payment is an answer, not an error: verify and settle answer 200 with x402's
``isValid: false`` or ``success: false`` and the reason, as x402 facilitators do (its client
turns any other status into a failed request). A body that is not an x402 request at all is a
422 with what is wrong, as for every route.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from x402.schemas import SettleRequest, VerifyRequest

from settlement.api.models import ErrorOut
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


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    """The route's x402 request body in the OpenAPI document (the route reads it itself, so a
    body that does not fit gets x402's names in the 422's reason), and its 422."""
    schema = _inlined(model.model_json_schema(by_alias=True))
    return {
        "openapi_extra": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
        },
        "responses": {422: {"model": ErrorOut, "description": "Not an x402 request"}},
    }


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each reference to its own ``$defs`` replaced by the definition, so it
    stands alone inside the OpenAPI document (x402's models have no cycles)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


@x402_router.post("/verify", **_documented(VerifyRequest))
async def verify(request: Request, facilitator: X402) -> dict[str, Any]:
    """Whether a payment payload would be paid: x402's ``VerifyResponse``. Nothing is stored."""
    body = await _body(request, VerifyRequest)
    return _wire(await facilitator.verify(body))


@x402_router.post("/settle", **_documented(SettleRequest))
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
        raise HTTPException(422, detail=f"not an x402 {model.__name__}: {problems}") from None


def _wire(answer: BaseModel) -> dict[str, Any]:
    """x402's JSON: camelCase, absent fields left out."""
    return answer.model_dump(mode="json", by_alias=True, exclude_none=True)
