"""What a fleet driving the service over HTTP needs beyond submitting payments: the terms its
robots sign under, test money on a local chain, and its payments' outcomes in bulk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from settlement.api.access import Operator
from settlement.api.dependencies import Service
from settlement.api.inputs import checked_address
from settlement.api.models import (
    DomainOut,
    ErrorOut,
    FaucetIn,
    FaucetOut,
    PaymentLookupIn,
    PaymentLookupOut,
    SettledPaymentOut,
    TermsOut,
)
from settlement.api.payment_views import payment_out
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.payments import SettlementMode
from settlement.errors import PaymentRejectedError
from settlement.faucet import DevFaucet, Grant
from settlement.runtime import Contracts
from settlement.terms import signing_terms

fleet_router = APIRouter(prefix="/v1", tags=["fleets"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
}


async def _faucet(request: Request) -> DevFaucet:
    faucet: DevFaucet | None = request.app.state.faucet
    if faucet is None or not faucet.available:
        raise HTTPException(404, detail="no faucet here: test money exists only on a dev chain")
    return faucet


Faucet = Annotated[DevFaucet, Depends(_faucet)]


@fleet_router.get("/terms", response_model=TermsOut)
async def terms(request: Request, service: Service) -> TermsOut:
    """The chain, token, EIP-712 domains and fee caps payers sign with, and the modes served."""
    contracts: Contracts | None = request.app.state.contracts
    chain_terms = await signing_terms(
        service.client,
        service.token,
        contracts.channels if contracts else None,
        contracts.net if contracts else None,
    )
    faucet: DevFaucet | None = request.app.state.faucet
    assert chain_terms.ledger_domain is not None
    return TermsOut(
        chain_id=chain_terms.chain_id,
        chain_time=chain_terms.chain_time,
        token=chain_terms.token,
        token_domain=_domain_out(chain_terms.token_domain),
        channels_domain=_optional_domain_out(chain_terms.channels_domain),
        net_domain=_optional_domain_out(chain_terms.net_domain),
        ledger_domain=_domain_out(chain_terms.ledger_domain),
        max_fee_per_gas_wei=chain_terms.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=chain_terms.max_priority_fee_per_gas_wei,
        modes=[mode for mode in SettlementMode if mode in service.settlers],
        faucet=faucet is not None and faucet.available,
    )


@fleet_router.post("/faucet", response_model=FaucetOut, responses=REFUSALS)
async def faucet_top_up(body: FaucetIn, faucet: Faucet, _operator: Operator) -> FaucetOut:
    """Top test accounts up to the given token and ether balances (operator; dev chain only)."""
    try:
        grants = [
            Grant(checked_address(g.address, "address"), g.token_base_units, g.ether_wei)
            for g in body.grants
        ]
    except PaymentRejectedError as rejection:
        raise HTTPException(400, detail=str(rejection)) from None
    report = await faucet.top_up(grants)
    return FaucetOut(**report.__dict__)


@fleet_router.post("/payments/lookup", response_model=PaymentLookupOut)
async def lookup_payments(body: PaymentLookupIn, service: Service) -> PaymentLookupOut:
    """Up to 1,000 payments by id, each with the transaction that settled it once confirmed."""
    wanted = [payment_id.lower() for payment_id in body.payment_ids]
    records = await service.store.records(wanted)
    mined = await service.store.mined_submissions(
        [r.submission_id for r in records.values() if r.submission_id is not None]
    )
    found = []
    for record in records.values():
        transaction = mined.get(record.submission_id) if record.submission_id else None
        found.append(
            SettledPaymentOut(
                payment=payment_out(record),
                tx_hash=transaction.tx_hash if transaction else None,
                transaction_gas_used=transaction.gas_used if transaction else None,
                payments_in_transaction=transaction.payments_confirmed if transaction else None,
            )
        )
    return PaymentLookupOut(
        payments=found, unknown=[payment_id for payment_id in wanted if payment_id not in records]
    )


def _domain_out(domain: Eip712Domain) -> DomainOut:
    return DomainOut(
        name=domain.name,
        version=domain.version,
        chain_id=domain.chain_id,
        verifying_contract=domain.verifying_contract,
    )


def _optional_domain_out(domain: Eip712Domain | None) -> DomainOut | None:
    return _domain_out(domain) if domain is not None else None
