"""A compute provider that sells inference over HTTP 402: a real x402 resource server.

Robots buy inference in bundles (``Scenario.inference_calls_per_payment`` calls at
``inference_price_per_call`` base units each). Here a bundle is one ``POST /v1/inference``
behind the official x402 SDK's FastAPI middleware: without payment it answers 402 with the
price; with an ``exact`` payment the middleware asks the facilitator (this project's settlement
service, ``/x402``) to verify it, runs the bundle, then asks it to settle, and answers with the
settlement in the ``PAYMENT-RESPONSE`` header. Nothing here signs or checks a payment itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from x402 import x402ResourceServer
from x402.http import FacilitatorConfig, HTTPFacilitatorClient
from x402.http.middleware.fastapi import payment_middleware
from x402.mechanisms.evm.exact import ExactEvmServerScheme
from x402.schemas import AssetAmount

INFERENCE_ROUTE = "/v1/inference"
# How long a buyer's authorization stays valid: x402's default, long enough for a settlement
# window and its transaction.
MAX_TIMEOUT_S = 300


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
    price = AssetAmount(
        amount=str(offer.price_base_units),
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
            "description": f"a bundle of {offer.calls_per_bundle} inference calls",
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
    async def inference(request: Request) -> dict[str, Any]:
        """Run one bundle of inference calls (simulated: the fleet's goods need the answers,
        not the arithmetic)."""
        return {"calls": offer.calls_per_bundle, "provider": offer.pay_to}

    return app
