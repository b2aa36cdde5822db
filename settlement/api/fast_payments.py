"""The payment routes' hot path, answered below FastAPI's routing and dependency machinery.

A fleet pays one payment per ``POST /v1/payments``. Profiled at 600 requests/s, FastAPI's own
layers (its exception and telemetry middlewares, routing over every route, dependency solving,
response validation) took about a third of the service's CPU, three times the route's own work.
``PaymentFastPath`` answers well-formed JSON bodies of the two submission routes itself, through
the same models and the same ``submit`` the FastAPI routes call, so the answers are the same
bytes. Everything else passes through untouched: other routes, other methods, a body that is not
JSON or does not validate (FastAPI then answers its 422, with every detail it gives).

It runs inside the body-size and rate limits, which apply to it as to every route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from fastapi import HTTPException
from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settlement.api.inputs import read_body
from settlement.api.models import PaymentBatchIn, PaymentBatchOut, PaymentIn, PaymentResultOut

SINGLE_PATH = "/v1/payments"
BATCH_PATH = "/v1/payments/batch"
Submit = Callable[[Sequence[PaymentIn]], Awaitable[list[PaymentResultOut]]]
ErrorResponse = Callable[[Exception], Awaitable[Response]]


class PaymentFastPath:
    """Answers valid submissions to the payment routes; passes every other request on.

    ``submit`` is the routes' own submission function; ``error_responses`` answer the exceptions
    the app's exception handlers answer (a full queue, an unreachable chain or store).
    """

    def __init__(
        self,
        app: ASGIApp,
        submit: Submit,
        error_responses: Mapping[type[Exception], ErrorResponse],
    ) -> None:
        self.app = app
        self.submit = submit
        self.error_responses = dict(error_responses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or path not in (SINGLE_PATH, BATCH_PATH)
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except HTTPException as refusal:  # the body-size limit, while the body arrives
            await _json(refusal.status_code, {"detail": refusal.detail})(scope, receive, send)
            return
        parsed = _parsed(body, PaymentIn if path == SINGLE_PATH else PaymentBatchIn)
        if parsed is None:
            await self.app(scope, _replaying(body, receive), send)
            return
        response = await self._answer(parsed)
        await response(scope, receive, send)

    async def _answer(self, parsed: BaseModel) -> Response:
        bodies = (
            list(parsed.payments)
            if isinstance(parsed, PaymentBatchIn)
            else [cast(PaymentIn, parsed)]
        )
        try:
            results = await self.submit(bodies)
        except Exception as error:
            answer = next(
                (make for kind, make in self.error_responses.items() if isinstance(error, kind)),
                None,
            )
            if answer is None:
                raise
            return await answer(error)
        if isinstance(parsed, PaymentBatchIn):
            return _model(200, PaymentBatchOut(results=results))
        (result,) = results
        if result.payment is None:
            return _json(result.status, {"detail": result.rejection})
        return _model(result.status, result.payment)


def _is_json(scope: Scope) -> bool:
    # The raw header list, not starlette's Headers: building that cost more than the scan.
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def _parsed(body: bytes, model: type[BaseModel]) -> BaseModel | None:
    """The body as ``model``, validated as FastAPI validates it, or None for FastAPI to refuse."""
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # json's errors are ValueErrors
        return None


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then the client's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _model(status: int, model: BaseModel) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _json(status: int, content: Any) -> Response:
    return JSONResponse(content, status_code=status)
