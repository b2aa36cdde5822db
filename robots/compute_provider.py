"""A compute provider that sells inference over HTTP 402: a real x402 resource server.

Robots buy inference in bundles (``Scenario.inference_calls_per_payment`` calls at
``inference_price_per_call`` base units each), one or more at a time. Here a purchase is one
``POST /v1/inference?bundles=N`` behind the official x402 SDK's FastAPI middleware: without
payment it answers 402 with the price of N bundles; with an ``exact`` payment the middleware asks
the facilitator (this project's settlement
service, ``/x402``) to verify it, runs the bundle, then asks it to settle, and answers with the
settlement in the ``PAYMENT-RESPONSE`` header. Nothing here signs or checks a payment itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Query
from x402 import x402ResourceServer
from x402.http import FacilitatorConfig, HTTPFacilitatorClient, HTTPRequestContext
from x402.http.middleware.fastapi import payment_middleware
from x402.mechanisms.evm.exact import ExactEvmServerScheme
from x402.schemas import AssetAmount

INFERENCE_ROUTE = "/v1/inference"
# How long a buyer's authorization stays valid: x402's default, long enough for a settlement
# window and its transaction.
MAX_TIMEOUT_S = 300
# The most bundles one request buys: a fleet's step pays for a few at a time.
MAX_BUNDLES_PER_REQUEST = 1_000


@dataclass(frozen=True)
class BundleOffer:
    """What the provider sells and for how much, on which chain and token."""

    pay_to: str
    calls_per_bundle: int
    price_base_units: int
    chain_id: int
    token: str
    token_name: str
    token_version: str

    @property
    def network(self) -> str:
        return f"eip155:{self.chain_id}"


def compute_provider_app(offer: BundleOffer, facilitator_url: str) -> FastAPI:
    """The provider's app: ``POST /v1/inference`` sells one bundle, paid through x402."""
    facilitator = HTTPFacilitatorClient(FacilitatorConfig(url=facilitator_url))
    server = x402ResourceServer(facilitator)
    # x402 2.25.0's own types disagree here: the scheme's constructor is unannotated and its
    # payment_flows dict is narrower than the protocol register() takes.
    server.register(offer.network, ExactEvmServerScheme())  # type: ignore[no-untyped-call,arg-type]

    def price(context: HTTPRequestContext) -> AssetAmount:
        """The price of the bundles asked for. A malformed count is priced as one bundle, and
        the route then refuses it (422), so the middleware settles nothing for it."""
        asked = context.adapter.get_query_param("bundles")
        bundles = _bundles(asked if isinstance(asked, str) else None)
        return AssetAmount(
            amount=str(bundles * offer.price_base_units),
            asset=offer.token,
            extra={"name": offer.token_name, "version": offer.token_version},
        )

    routes: dict[str, Any] = {
        f"POST {INFERENCE_ROUTE}": {
            "accepts": {
                "scheme": "exact",
                "network": offer.network,
                "payTo": offer.pay_to,
                "price": price,
                "maxTimeoutSeconds": MAX_TIMEOUT_S,
            },
            "description": f"bundles of {offer.calls_per_bundle} inference calls",
            "mimeType": "application/json",
        }
    }

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await facilitator.aclose()  # its keep-alive connections to the facilitator

    app = FastAPI(title="compute provider", lifespan=lifespan)
    # The middleware asks the facilitator what it supports now (a blocking request, before the
    # app serves), and again on the first paid request if the facilitator did not answer yet.
    app.middleware("http")(payment_middleware(routes, server))

    @app.post(INFERENCE_ROUTE)
    async def inference(
        bundles: int = Query(1, ge=1, le=MAX_BUNDLES_PER_REQUEST),
    ) -> dict[str, Any]:
        """Run the bundles of inference calls paid for (simulated: the fleet's goods need the
        answers, not the arithmetic)."""
        return {"calls": bundles * offer.calls_per_bundle, "provider": offer.pay_to}

    return app


def _bundles(asked: str | None) -> int:
    """The bundles a request asks for, or 1 when it names no valid count."""
    if asked is None or not asked.isdigit():
        return 1
    return min(max(int(asked), 1), MAX_BUNDLES_PER_REQUEST)
