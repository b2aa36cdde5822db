"""The baseline ledger's routes: deposit into a wallet (operator only) and read its balance.

Payments in ledger mode go through ``POST /v1/payments`` like every other mode; these routes
only put money in and show where it stands.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from settlement.api.access import Operator
from settlement.api.inputs import AddressPath, checked_address, path_address
from settlement.api.models import ErrorOut, LedgerAccountOut, LedgerDepositIn
from settlement.errors import PaymentRejectedError
from settlement.ledger import CreateTransferResult, Ledger
from settlement.settlers.ledger import deposit, wallet_balance

ledger_router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger | None = request.app.state.ledger
    if ledger is None:
        raise HTTPException(404, detail="the ledger baseline is not served here")
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


@ledger_router.post(
    "/deposits",
    status_code=201,
    response_model=LedgerAccountOut,
    responses={
        200: {"model": LedgerAccountOut, "description": "A retry: the reference was deposited"},
        **REFUSALS,
    },
)
async def deposit_into_wallet(
    body: LedgerDepositIn, ledger: LedgerDep, _operator: Operator, response: Response
) -> LedgerAccountOut:
    """Credit a wallet from the issuer. A retry with the same reference deposits once (200)."""
    try:
        address = checked_address(body.address, "address")
    except PaymentRejectedError as rejection:
        raise HTTPException(400, detail=str(rejection)) from None
    result = await asyncio.to_thread(
        deposit, ledger, address, body.amount_base_units, body.reference.encode()
    )
    if result == CreateTransferResult.EXISTS:
        response.status_code = 200
    elif result != CreateTransferResult.OK:
        raise HTTPException(409, detail=f"deposit {body.reference!r} refused: {result}")
    return await _account_out(ledger, address)


@ledger_router.get(
    "/accounts/{address}",
    response_model=LedgerAccountOut,
    responses={400: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
async def get_wallet(address: AddressPath, ledger: LedgerDep) -> LedgerAccountOut:
    return await _account_out(ledger, path_address(address, "address"))


async def _account_out(ledger: Ledger, address: str) -> LedgerAccountOut:
    account = await asyncio.to_thread(wallet_balance, ledger, address)
    if account is None:
        raise HTTPException(404, detail=f"{address} has no ledger account")
    return LedgerAccountOut(
        address=address,
        balance_base_units=account.balance,
        debits_posted_base_units=account.debits_posted,
        credits_posted_base_units=account.credits_posted,
    )
