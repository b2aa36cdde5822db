"""A fleet's compute payments paid over HTTP 402: robots buy their bundles from x402 providers.

Each compute payment of the stream (among the sample, when there is one) becomes one paid
request, with the official x402 SDK on both sides: the robot's httpx client (its
``x402AsyncTransport`` and ``exact`` EVM signer) buys ``POST /v1/inference?bundles=N`` from its
provider's app (``robots.compute_provider``: the SDK's FastAPI middleware), which has a running
settlement service verify and settle the payment as its facilitator. The providers run in this
process, one app each, reached over ASGI at the host ``provider-<n>``; the facilitator has to be
a service at a URL, because the middleware's first call to it blocks its caller's event loop.

As ``robots.settle.settle_stream_over_http`` does, the participants get keys of their own for
this settlement and the robots are funded through the service's faucet with what they pay.
Measured: requests paid and refused (with the reason the provider's 402 named), paid requests
per second, each request's latency (the 402, the signed retry, verify, the bundle, and settle
until mined), the transactions the answers name and their gas (a transaction's gas shared
equally among the payments it carried), and what the providers received, read from their
balances before and after.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import numpy as np
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from x402 import x402Client
from x402.http import decode_payment_required_header, decode_payment_response_header
from x402.http.clients.httpx import x402AsyncTransport
from x402.mechanisms.evm.exact import ExactEvmScheme
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import SettleResponse

from robots.compute_provider import INFERENCE_ROUTE, BundleOffer, compute_provider_app
from robots.model import PURPOSE_INDEX
from robots.scenario import Scenario
from robots.settle import (
    MAX_FAILURE_REASONS,
    BoolArray,
    RemoteService,
    payments_among,
    stream_replay,
)
from robots.stream import PaymentStream
from settlement.api.models import TermsOut
from settlement.client import SettlementClient
from settlement.domain.payments import Purpose, SettlementMode
from settlement.remote_replay import fund_participants, ready_to_replay
from settlement.replay import ProgressCallback, Replay, ReplayPayment
from settlement.wallet import PayerWallet

# A paid request waits for its settlement to be mined; the facilitator gives up at 30 s.
REQUEST_TIMEOUT_S = 120.0
PAYING = "paying over x402"


@dataclass(frozen=True)
class X402Settlement:
    """What paying a stream's compute payments over x402 did and cost."""

    settled_by: str
    participant_key_tag: str
    compute_payments_in_stream: int
    # The compute payments between sampled participants: all of them without a sample.
    attempted: int
    paid: int
    refused: int
    # Reason -> requests, the ``MAX_FAILURE_REASONS`` most common.
    refusal_reasons: dict[str, int]
    transactions: int
    # The paid payments' share of their transactions' gas.
    gas_total: int
    paid_per_s: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    service_cpu_ns_per_payment: int
    # What the paid requests carried, and what the providers' balances rose by.
    value_paid_base_units: int
    value_received_base_units: int
    sampled: bool

    @property
    def gas_per_payment(self) -> float:
        return self.gas_total / max(self.paid, 1)

    @property
    def received_what_was_paid(self) -> bool:
        return self.value_received_base_units == self.value_paid_base_units


@dataclass(frozen=True)
class Purchase:
    """One request's answer: paid (with its transaction) or refused (with the reason)."""

    payment: ReplayPayment
    latency_s: float
    transaction: str | None
    refusal: str | None


def compute_payments(stream: PaymentStream, participants: Collection[int] | None) -> BoolArray:
    """Which of the stream's payments are compute payments among ``participants``."""
    compute: BoolArray = stream.purposes == PURPOSE_INDEX[Purpose.COMPUTE]
    return payments_among(stream, participants) & compute


async def pay_compute_over_x402(
    stream: PaymentStream,
    scenario: Scenario,
    service: RemoteService,
    *,
    participants: Collection[int] | None = None,
    on_progress: ProgressCallback | None = None,
) -> X402Settlement:
    """Buy every compute payment's bundles from its provider over x402, the service at
    ``service.url`` verifying and settling; ``on_progress(phase, done, total)`` hears of it."""
    selected = compute_payments(stream, participants)
    if not selected.any():
        raise ValueError("the run has no compute payments to pay over x402")
    key_tag = f"{service.run_tag} x402"
    replay = stream_replay(stream, selected, key_tag)
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    async with SettlementClient(
        service.url, api_key=service.api_key, concurrency=service.concurrency
    ) as client:
        terms = await ready_to_replay(client, [SettlementMode.AUTHORIZATION])
        offers = _offers(replay, wallets, scenario, terms)
        for payment in replay.payments:  # every amount checked before anyone is funded
            _bundles_in(payment, offers[payment.payee])
        await fund_participants(client, replay, SettlementMode.AUTHORIZATION, wallets)
        held_before = await _balances(client, offers.values())
        cpu_before = (await client.stats()).process_cpu_s
        started = time.perf_counter()
        async with _providers(offers, f"{service.url}/x402") as transport:
            purchases = await _buy_everything(
                replay, wallets, offers, transport, service.concurrency, on_progress
            )
        run = Measured(
            purchases,
            elapsed_s=time.perf_counter() - started,
            cpu_s=(await client.stats()).process_cpu_s - cpu_before,
            gas_total=await _gas_share(client, purchases),
            received=sum(await _balances(client, offers.values())) - sum(held_before),
        )
    return run.settlement(stream, selected, service.url, key_tag, sampled=participants is not None)


def _offers(
    replay: Replay, wallets: Sequence[PayerWallet], scenario: Scenario, terms: TermsOut
) -> dict[int, BundleOffer]:
    """Each payee's offer: the scenario's bundle at its price, on the service's chain and token."""
    bundle_price = scenario.inference_calls_per_payment * scenario.inference_price_per_call
    return {
        payee: BundleOffer(
            pay_to=wallets[payee].address,
            calls_per_bundle=scenario.inference_calls_per_payment,
            price_base_units=bundle_price,
            chain_id=terms.chain_id,
            token=terms.token,
            token_name=terms.token_domain.name,
            token_version=terms.token_domain.version,
        )
        for payee in sorted({payment.payee for payment in replay.payments})
    }


def x402_buyer(robot: LocalAccount, network: str) -> x402Client:
    """The SDK's client paying ``exact`` on ``network`` with ``robot``'s key. Its spend controls
    are off: this chain's token is not one of the assets x402 knows, which it pays only if told."""
    buyer = x402Client()
    buyer.register(network, ExactEvmScheme(EthAccountSigner(robot)))
    buyer.set_spend_controls(False)
    return buyer


def provider_host(payee: int) -> str:
    return f"provider-{payee}"


class ProvidersTransport(httpx.AsyncBaseTransport):
    """Each provider's app by its host name, in this process."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self._by_host = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            transport = self._by_host[request.url.host]
        except KeyError:
            return httpx.Response(404, text=f"no provider at {request.url.host}")
        return await transport.handle_async_request(request)


@asynccontextmanager
async def _providers(
    offers: dict[int, BundleOffer], facilitator_url: str
) -> AsyncIterator[ProvidersTransport]:
    apps = {provider_host(p): compute_provider_app(o, facilitator_url) for p, o in offers.items()}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield ProvidersTransport(apps)


async def _buy_everything(
    replay: Replay,
    wallets: Sequence[PayerWallet],
    offers: dict[int, BundleOffer],
    transport: ProvidersTransport,
    concurrency: int,
    on_progress: ProgressCallback | None,
) -> list[Purchase]:
    """Every robot buys its bundles in the stream's order, ``concurrency`` requests in flight
    across the fleet."""
    by_payer: dict[int, list[ReplayPayment]] = {}
    for payment in replay.payments:
        by_payer.setdefault(payment.payer, []).append(payment)
    gate = asyncio.Semaphore(concurrency)
    done = [0]

    def count() -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress(PAYING, done[0], len(replay.payments))

    network = next(iter(offers.values())).network
    bought = await asyncio.gather(
        *(
            _robot_buys(wallets[payer].account, network, payments, offers, transport, gate, count)
            for payer, payments in by_payer.items()
        )
    )
    return [purchase for purchases in bought for purchase in purchases]


async def _robot_buys(
    robot: LocalAccount,
    network: str,
    payments: Sequence[ReplayPayment],
    offers: dict[int, BundleOffer],
    transport: ProvidersTransport,
    gate: asyncio.Semaphore,
    count: Callable[[], None],
) -> list[Purchase]:
    purchases = []
    paying = x402AsyncTransport(x402_buyer(robot, network), transport=transport)
    async with httpx.AsyncClient(transport=paying, timeout=REQUEST_TIMEOUT_S) as http:
        for payment in payments:
            bundles = _bundles_in(payment, offers[payment.payee])
            url = f"http://{provider_host(payment.payee)}{INFERENCE_ROUTE}"
            async with gate:
                started = time.perf_counter()
                answer = await http.post(url, params={"bundles": bundles})
                latency_s = time.perf_counter() - started
            purchases.append(_purchase(payment, latency_s, answer))
            count()
    return purchases


def _bundles_in(payment: ReplayPayment, offer: BundleOffer) -> int:
    bundles, rest = divmod(payment.amount_base_units, offer.price_base_units)
    if rest or not bundles:
        raise ValueError(
            f"compute payment {payment.idempotency_key} of {payment.amount_base_units} base units "
            f"is not a whole number of {offer.price_base_units}-unit bundles"
        )
    return bundles


def _purchase(payment: ReplayPayment, latency_s: float, answer: httpx.Response) -> Purchase:
    """Paid, with the transaction the ``PAYMENT-RESPONSE`` names; or refused, with the reason
    the provider's answer gives (the settle failure, else the 402's error, else the status)."""
    settled = answer.headers.get("PAYMENT-RESPONSE")
    receipt = decode_payment_response_header(settled) if settled else None
    if answer.status_code == 200 and receipt is not None and receipt.success:
        return Purchase(payment, latency_s, receipt.transaction, None)
    return Purchase(payment, latency_s, None, _refusal(answer, receipt))


def _refusal(answer: httpx.Response, receipt: SettleResponse | None) -> str:
    reason = receipt.error_reason if receipt is not None else None
    required = answer.headers.get("PAYMENT-REQUIRED")
    if not reason and required:
        reason = decode_payment_required_header(required).error
    return str(reason) if reason else f"HTTP {answer.status_code}"


async def _balances(client: SettlementClient, offers: Iterable[BundleOffer]) -> list[int]:
    held = await asyncio.gather(*(client.balance(offer.pay_to) for offer in offers))
    return [balance.balance_base_units for balance in held]


async def _gas_share(client: SettlementClient, purchases: Sequence[Purchase]) -> int:
    """The paid payments' share of the gas of the transactions that carried them: a batched
    transaction's gas divided equally among all it settled."""
    ours = Counter(p.transaction for p in purchases if p.transaction is not None)
    found = await asyncio.gather(*(client.transaction(tx) for tx in ours))
    shares = (
        (tx.gas_used or 0) * carried / max(tx.payments_settled or 1, 1)
        for tx, carried in zip(found, ours.values(), strict=True)
    )
    return round(sum(shares))


@dataclass(frozen=True)
class Measured:
    """Every purchase, and what the service and chain said of them."""

    purchases: Sequence[Purchase]
    elapsed_s: float
    cpu_s: float
    gas_total: int
    received: int

    def settlement(
        self, stream: PaymentStream, selected: BoolArray, url: str, key_tag: str, *, sampled: bool
    ) -> X402Settlement:
        paid = [p for p in self.purchases if p.transaction is not None]
        refusals = Counter(p.refusal for p in self.purchases if p.refusal is not None)
        latencies_ms = [p.latency_s * 1000 for p in self.purchases]
        p50, p95, p99 = (float(v) for v in np.percentile(latencies_ms, [50, 95, 99]))
        return X402Settlement(
            settled_by=url,
            participant_key_tag=key_tag,
            compute_payments_in_stream=int(compute_payments(stream, None).sum()),
            attempted=int(selected.sum()),
            paid=len(paid),
            refused=len(self.purchases) - len(paid),
            refusal_reasons=dict(refusals.most_common(MAX_FAILURE_REASONS)),
            transactions=len({p.transaction for p in paid}),
            gas_total=self.gas_total,
            paid_per_s=len(paid) / self.elapsed_s if self.elapsed_s > 0 else 0.0,
            latency_ms_p50=p50,
            latency_ms_p95=p95,
            latency_ms_p99=p99,
            service_cpu_ns_per_payment=round(self.cpu_s * 1e9 / max(len(paid), 1)),
            value_paid_base_units=sum(p.payment.amount_base_units for p in paid),
            value_received_base_units=self.received,
            sampled=sampled,
        )
