"""The FastAPI application: routes translate HTTP to ``SettlementService`` calls and back.

Status codes live here and only here: 201 accepted, 200 a retry of an accepted payment, 400 an
invalid payment (the reason says why), 409 a conflict with another payment (reused idempotency
key, spent nonce), 413 a body over its route's limit, 422 a malformed body, 429 a full queue or a
client over its rate limit (with Retry-After), 401 a missing or wrong operator key, 503 the chain
or the store unreachable for the moment (with Retry-After: resending is safe, since every payment
carries its idempotency key).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from settlement import __version__
from settlement.api.access import Operator
from settlement.api.dashboard_routes import dashboard_router
from settlement.api.dependencies import Service
from settlement.api.escrow_routes import escrow_router
from settlement.api.fast_payments import PaymentFastPath
from settlement.api.fleet_routes import fleet_router
from settlement.api.inputs import (
    TOO_LARGE_RESPONSE,
    AddressPath,
    BodySizeLimit,
    Bytes32Path,
    checked_address,
    path_address,
)
from settlement.api.leader_routes import LeaderRoutes
from settlement.api.ledger_routes import ledger_router
from settlement.api.models import (
    BalanceOut,
    ErrorOut,
    FlushOut,
    HealthOut,
    HoldingDifferenceOut,
    ModeStatsOut,
    PaymentBatchIn,
    PaymentBatchOut,
    PaymentCostOut,
    PaymentIn,
    PaymentOut,
    PaymentResultOut,
    ReconciliationOut,
    RoundOut,
    StatsOut,
)
from settlement.api.payment_views import payment_out
from settlement.api.policy_routes import policy_router
from settlement.api.rate_limit import (
    DEFAULT_RATE_LIMIT,
    RATE_LIMITED_RESPONSE,
    RateLimit,
    RateLimitMiddleware,
    TokenBuckets,
)
from settlement.api.x402_routes import x402_router
from settlement.domain.costs import payment_cost
from settlement.domain.payments import PaymentIntent, PaymentState, SettlementMode
from settlement.errors import ChainUnavailableError, PaymentRejectedError, QueueFullError
from settlement.escrow import EscrowDesk
from settlement.faucet import DevFaucet
from settlement.leadership import Leadership
from settlement.ledger import Ledger
from settlement.runtime import Contracts
from settlement.service import RoundReport, SettlementService
from settlement.settlers.base import PaymentSubmission
from settlement.store import AcceptOutcome
from settlement.x402.facilitator import Facilitator

MAX_PAGE = 1_000


class ApiMetrics:
    """Prometheus counters in a registry of the app's own, so several apps never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "settlement_payments_accepted", "Payments accepted", ["mode"], registry=self.registry
        )
        self.rejected = Counter(
            "settlement_payments_rejected", "Payments refused", ["mode"], registry=self.registry
        )
        self.settled = Counter(
            "settlement_payments_settled",
            "Payments settled on chain",
            ["mode"],
            registry=self.registry,
        )
        self.gas = Counter(
            "settlement_gas_used",
            "Gas used by settlement transactions",
            ["mode"],
            registry=self.registry,
        )

    def record_round(self, report: RoundReport) -> None:
        mode = report.mode.value
        self.settled.labels(mode).inc(report.settled)
        self.gas.labels(mode).inc(sum(mined.gas_used for mined in report.mined))


def create_app(
    service: SettlementService,
    operator_api_key: str | None,
    escrow: EscrowDesk | None = None,
    ledger: Ledger | None = None,
    *,
    contracts: Contracts | None = None,
    faucet: DevFaucet | None = None,
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
    leadership: Leadership | None = None,
) -> FastAPI:
    """The app around a running service; without an operator key the operator routes refuse.

    ``escrow`` serves the channel and net-settlement funding routes, ``ledger`` the baseline
    ledger's deposit and balance routes, ``faucet`` test money on a dev chain; without them those
    routes answer 404. ``contracts`` names the escrow contracts in the signing terms.
    ``rate_limit`` applies to each client (see ``settlement.api.rate_limit``). With
    ``leadership`` (several processes on one store) the routes that send operator transactions
    are served by the settling leader, forwarded there from the others.
    """
    app = FastAPI(
        title="Robot settlement",
        version=__version__,
        description="Settle robot micro-payments in a stablecoin and measure their cost.",
        responses={
            429: {"model": ErrorOut, **RATE_LIMITED_RESPONSE},
            503: {"model": ErrorOut, **UNAVAILABLE_RESPONSE},
            **TOO_LARGE_RESPONSE,
        },
    )
    app.state.metrics = ApiMetrics()
    # Added first, so it runs innermost: inside the body-size and rate limits.
    app.add_middleware(
        PaymentFastPath,
        submit=functools.partial(_submit, service=service, metrics=app.state.metrics),
        error_responses={
            QueueFullError: functools.partial(_queue_full, None),
            ChainUnavailableError: functools.partial(_unavailable, None),
            sa.exc.OperationalError: functools.partial(_unavailable, None),
        },
    )
    if leadership is not None:
        app.add_middleware(LeaderRoutes, leadership=leadership)
    if rate_limit.enabled:
        app.add_middleware(
            RateLimitMiddleware,
            buckets=TokenBuckets(rate_limit),
            operator_api_key=operator_api_key,
        )
    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(BodySizeLimit)
    app.state.service = service
    app.state.leadership = leadership
    app.state.operator_api_key = operator_api_key
    app.state.escrow = escrow
    app.state.ledger = ledger
    app.state.contracts = contracts
    app.state.faucet = faucet
    app.state.x402 = Facilitator(service)
    app.add_exception_handler(QueueFullError, _queue_full)  # type: ignore[arg-type]
    app.add_exception_handler(ChainUnavailableError, _unavailable)
    app.add_exception_handler(sa.exc.OperationalError, _unavailable)
    app.include_router(payments_router)
    app.include_router(escrow_router)
    app.include_router(policy_router)
    app.include_router(ledger_router)
    app.include_router(fleet_router)
    app.include_router(dashboard_router)
    app.include_router(operator_router)
    app.include_router(status_router)
    app.include_router(x402_router)
    return app


async def _metrics(request: Request) -> ApiMetrics:
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


Metrics = Annotated[ApiMetrics, Depends(_metrics)]


async def _unavailable(_request: Request | None, error: Exception) -> JSONResponse:
    """503 for a chain connection lost or a store busy or down, with what failed (not how)."""
    what = "the chain" if isinstance(error, ChainUnavailableError) else "the payment store"
    logger.warning("answered 503: %s is unavailable: %s", what, error)
    return JSONResponse(
        status_code=503,
        content={"detail": f"{what} is unavailable for the moment; resend the same request"},
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def _queue_full(_request: Request | None, error: QueueFullError) -> JSONResponse:
    return JSONResponse(
        status_code=429,
        content={"detail": str(error)},
        headers={"Retry-After": str(error.retry_after_s)},
    )


logger = logging.getLogger("settlement.api")
# A dropped chain connection or a locked SQLite file lasts a moment; the client should resend.
UNAVAILABLE_RETRY_AFTER_S = 1
UNAVAILABLE_RESPONSE = {
    "description": "The chain or the payment store is unreachable for the moment; resend the "
    "same request after Retry-After seconds"
}

# ---------------------------------------------------------------- payments

payments_router = APIRouter(prefix="/v1", tags=["payments"])
REJECTIONS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    409: {"model": ErrorOut},
    429: {"model": ErrorOut, **RATE_LIMITED_RESPONSE},
}


@payments_router.post(
    "/payments",
    status_code=201,
    response_model=PaymentOut,
    responses={
        200: {"model": PaymentOut, "description": "A retry: the payment as first accepted"},
        **REJECTIONS,
    },
)
async def submit_payment(
    body: PaymentIn, service: Service, metrics: Metrics, response: Response
) -> PaymentOut:
    """Submit one signed payment. A retry with the same idempotency key returns the first result."""
    (result,) = await _submit([body], service, metrics)
    if result.payment is None:
        raise HTTPException(status_code=result.status, detail=result.rejection)
    response.status_code = result.status
    return result.payment


@payments_router.post("/payments/batch", response_model=PaymentBatchOut, responses=REJECTIONS)
async def submit_payments(
    body: PaymentBatchIn, service: Service, metrics: Metrics
) -> PaymentBatchOut:
    """Submit up to 1,000 payments in one request; each gets its own result and status."""
    return PaymentBatchOut(results=await _submit(body.payments, service, metrics))


@payments_router.get(
    "/payments/{payment_id}", response_model=PaymentOut, responses={404: {"model": ErrorOut}}
)
async def get_payment(payment_id: Bytes32Path, service: Service) -> PaymentOut:
    record = await service.store.get(payment_id.lower())
    if record is None:
        raise HTTPException(status_code=404, detail=f"no payment {payment_id}")
    return payment_out(record)


@payments_router.get(
    "/payments/{payment_id}/cost",
    response_model=PaymentCostOut,
    responses={404: {"model": ErrorOut}},
)
async def get_payment_cost(payment_id: Bytes32Path, service: Service) -> PaymentCostOut:
    """What a confirmed payment cost: gas share, fee, latencies and CPU time."""
    facts = await service.store.settlement_facts(payment_id.lower())
    if facts is None:
        raise HTTPException(status_code=404, detail=f"no confirmed payment {payment_id}")
    cost = payment_cost(facts)
    return PaymentCostOut(**{**cost.__dict__, "mode": SettlementMode(cost.mode)})


@payments_router.get(
    "/payers/{payer}/payments",
    response_model=list[PaymentOut],
    responses={400: {"model": ErrorOut}},
)
async def list_payer_payments(
    payer: AddressPath,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    accepted_before: Annotated[float | None, Query(ge=0)] = None,
) -> list[PaymentOut]:
    """A payer's payments, newest first; page with ``accepted_before``."""
    address = path_address(payer, "payer")
    records = await service.store.list_for_payer(address, limit, accepted_before)
    return [payment_out(record) for record in records]


async def _submit(
    bodies: Sequence[PaymentIn], service: SettlementService, metrics: ApiMetrics
) -> list[PaymentResultOut]:
    """Each body's result; the FastAPI routes and ``PaymentFastPath`` both answer with it."""
    submissions: list[PaymentSubmission | PaymentRejectedError] = []
    for body in bodies:
        try:
            submissions.append(_submission(body))
        except PaymentRejectedError as rejection:
            submissions.append(rejection)
    valid = [item for item in submissions if isinstance(item, PaymentSubmission)]
    outcomes = iter(await service.submit(valid))
    results = []
    for body, item in zip(bodies, submissions, strict=True):
        if isinstance(item, PaymentRejectedError):
            metrics.rejected.labels(body.instrument.mode).inc()
            results.append(
                PaymentResultOut(
                    payment_id="", status=400, created=False, payment=None, rejection=str(item)
                )
            )
            continue
        results.append(_result(next(outcomes), metrics, body.instrument.mode))
    return results


def _submission(body: PaymentIn) -> PaymentSubmission:
    intent = PaymentIntent(
        idempotency_key=body.idempotency_key,
        payer=checked_address(body.payer, "payer"),
        payee=checked_address(body.payee, "payee"),
        amount_base_units=body.amount_base_units,
        purpose=body.purpose,
    )
    instrument = body.instrument.model_dump(exclude={"mode"})
    return PaymentSubmission(intent, SettlementMode(body.instrument.mode), instrument)


def _result(outcome: AcceptOutcome, metrics: ApiMetrics, mode: str) -> PaymentResultOut:
    if outcome.record is None:
        metrics.rejected.labels(mode).inc()
        status = 409 if outcome.conflict else 400
        return PaymentResultOut(
            payment_id=outcome.payment_id,
            status=status,
            created=False,
            payment=None,
            rejection=outcome.rejection,
        )
    if outcome.created:
        metrics.accepted.labels(mode).inc()
    return PaymentResultOut(
        payment_id=outcome.payment_id,
        status=201 if outcome.created else 200,
        created=outcome.created,
        payment=payment_out(outcome.record),
        rejection=None,
    )


# ---------------------------------------------------------------- operator

operator_router = APIRouter(prefix="/v1", tags=["operator"])


@operator_router.get(
    "/book/reconciliation",
    response_model=ReconciliationOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
async def reconcile_book(_operator: Operator, service: Service) -> ReconciliationOut:
    """Compare the service's book with the chain, holding by holding, and list differences."""
    if service.book is None:
        raise HTTPException(404, detail="this service keeps no book")
    reconciliation = await service.reconcile_book()
    return ReconciliationOut(
        holdings_checked=reconciliation.holdings_checked,
        unexplained=len(reconciliation.unexplained),
        differences=[
            HoldingDifferenceOut(
                holding=d.holding.value,
                address=d.address,
                book_base_units=d.book_base_units,
                chain_base_units=d.chain_base_units,
                difference_base_units=d.difference_base_units,
                pending_out_base_units=d.pending_out_base_units,
                pending_in_base_units=d.pending_in_base_units,
                explained_by_pending=d.explained_by_pending,
            )
            for d in reconciliation.differences
        ],
    )


@operator_router.post(
    "/windows/flush", response_model=FlushOut, responses={401: {"model": ErrorOut}}
)
async def flush_windows(
    _operator: Operator,
    service: Service,
    metrics: Metrics,
    mode: SettlementMode | None = None,
) -> FlushOut:
    """Settle what is queued now, in one mode or all, without waiting for a window to close."""
    modes = [mode] if mode is not None else list(service.settlers)
    rounds = []
    for each in modes:
        report = await service.settle_round(each)
        metrics.record_round(report)
        rounds.append(
            RoundOut(
                mode=each,
                transactions=report.transactions,
                settled=report.settled,
                failed=report.failed,
                requeued=report.requeued,
            )
        )
    return FlushOut(rounds=rounds)


# ---------------------------------------------------------------- status

status_router = APIRouter(tags=["status"])


@payments_router.get(
    "/balances/{address}", response_model=BalanceOut, responses={400: {"model": ErrorOut}}
)
async def balance(address: AddressPath, service: Service) -> BalanceOut:
    """The account's on-chain balance, and the sum of its payments still waiting to settle."""
    account = path_address(address, "address")
    block_number = int(await service.client.w3.eth.block_number)
    return BalanceOut(
        address=account,
        token=service.token.address,
        balance_base_units=await service.token.balance_of(account),
        queued_outgoing_base_units=await service.store.pending_outgoing(account),
        block_number=block_number,
    )


@status_router.get("/v1/stats", response_model=StatsOut)
async def stats(service: Service) -> StatsOut:
    counts = await service.store.count_by_state()
    by_mode: dict[SettlementMode, dict[PaymentState, int]] = {}
    for (mode, state), count in counts.items():
        by_mode.setdefault(mode, {})[state] = count
    return StatsOut(
        modes=[ModeStatsOut(mode=mode, counts=by_mode[mode]) for mode in sorted(by_mode)],
        queued=sum(count for (_, state), count in counts.items() if state is PaymentState.QUEUED),
        max_queued=service.max_queued,
        process_cpu_s=time.process_time(),
    )


@status_router.get("/health", response_model=HealthOut)
async def health(service: Service, request: Request, response: Response) -> HealthOut:
    chain_id: int | None = None
    latest_block: int | None = None
    try:
        latest_block = int(await service.client.w3.eth.block_number)
        chain_id = service.client.chain_id
    except Exception:
        latest_block = None
    try:
        await service.store.count_queued()
        database = "ok"
    except Exception:
        database = "unreachable"
    healthy = latest_block is not None and database == "ok"
    response.status_code = 200 if healthy else 503
    leadership: Leadership | None = request.app.state.leadership
    return HealthOut(
        settling=None if leadership is None else leadership.is_leading(),
        status="ok" if healthy else "degraded",
        chain_id=chain_id,
        latest_block=latest_block,
        database=database,  # type: ignore[arg-type]
    )


@status_router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(metrics: Metrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
