"""The live dashboard: a page that refreshes itself from ``GET /v1/dashboard``, and the details
of each settlement transaction it lists."""

from __future__ import annotations

import time
from importlib import resources
from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse

from settlement.api.dependencies import Service
from settlement.api.models import DashboardOut, ErrorOut, ModeActivityOut, TransactionOut
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.store import SettlementTransaction

WINDOW_S = 120
LATENCY_WINDOW_S = 300
LATENCY_SAMPLE = 5_000
RECENT_TRANSACTIONS = 20
DASHBOARD_PAGE = "dashboard.html"

dashboard_router = APIRouter(tags=["dashboard"])
TxHashPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]


@dashboard_router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page() -> HTMLResponse:
    page = resources.files("settlement.api").joinpath(DASHBOARD_PAGE).read_text()
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@dashboard_router.get("/v1/dashboard", response_model=DashboardOut)
async def dashboard(service: Service) -> DashboardOut:
    """Queue depth, each mode's last two minutes second by second, its latency over the last
    five, gas per payment, and the latest settlement transactions."""
    now = time.time()
    first_second = int(now) - WINDOW_S + 1
    store = service.store
    counts = await store.count_by_state()
    rates = await store.per_second(first_second)
    latencies = await store.recent_latencies(now - LATENCY_WINDOW_S, LATENCY_SAMPLE)
    gas = await store.gas_by_mode()
    modes = sorted({mode for mode, _ in counts} | set(rates), key=list(SettlementMode).index)
    return DashboardOut(
        now=now,
        window_s=WINDOW_S,
        latency_window_s=LATENCY_WINDOW_S,
        queued=sum(n for (_, state), n in counts.items() if state is PaymentState.QUEUED),
        max_queued=service.max_queued,
        modes=[
            _activity(
                mode, counts, rates.get(mode), latencies.get(mode), gas.get(mode), first_second
            )
            for mode in modes
        ],
        recent_transactions=[
            _transaction_out(t) for t in await store.recent_transactions(RECENT_TRANSACTIONS)
        ],
    )


@dashboard_router.get(
    "/v1/transactions/{tx_hash}",
    response_model=TransactionOut,
    responses={404: {"model": ErrorOut}},
    tags=["payments"],
)
async def transaction(tx_hash: TxHashPath, service: Service) -> TransactionOut:
    """A settlement transaction: its mode, block, gas, fee and the payments it settled."""
    found = await service.store.transaction(tx_hash.lower())
    if found is None:
        raise HTTPException(404, detail=f"no settlement transaction {tx_hash}")
    return _transaction_out(found)


def _activity(
    mode: SettlementMode,
    counts: dict[tuple[SettlementMode, PaymentState], int],
    rates: tuple[dict[int, int], dict[int, int]] | None,
    latencies_s: list[float] | None,
    gas: tuple[int, int] | None,
    first_second: int,
) -> ModeActivityOut:
    accepted, settled = rates or ({}, {})
    seconds = range(first_second, first_second + WINDOW_S)
    p50 = p99 = None
    if latencies_s:
        p50, p99 = (float(v) * 1000 for v in np.percentile(latencies_s, [50, 99]))
    return ModeActivityOut(
        mode=mode,
        counts={state: n for (m, state), n in counts.items() if m is mode},
        accepted_per_s=[accepted.get(second, 0) for second in seconds],
        settled_per_s=[settled.get(second, 0) for second in seconds],
        latency_ms_p50=p50,
        latency_ms_p99=p99,
        gas_per_payment=gas[0] / gas[1] if gas and gas[1] else None,
    )


def _transaction_out(found: SettlementTransaction) -> TransactionOut:
    fee = (
        found.gas_used * found.effective_gas_price_wei
        if found.gas_used is not None and found.effective_gas_price_wei is not None
        else None
    )
    return TransactionOut(
        tx_hash=found.tx_hash,
        mode=found.mode,
        state=found.state.value,
        block_number=found.block_number,
        gas_used=found.gas_used,
        effective_gas_price_wei=found.effective_gas_price_wei,
        fee_wei=fee,
        payments_settled=found.payments_settled,
        mined_at=found.mined_at,
        payment_ids=found.payment_ids,
        details_url=f"/v1/transactions/{found.tx_hash}",
    )
