"""Routes that fund the escrowed modes: open and top up channels, deposit for net settlement.

A robot proves itself by its signature on the funding authorization; the service relays it and
answers with the state on chain. A bad signature or a contract refusal is a 400 with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from settlement.api.inputs import AddressPath, Bytes32Path, checked_address, path_address
from settlement.api.models import (
    ChannelOpenIn,
    ChannelOut,
    ChannelTopUpIn,
    DepositIn,
    ErrorOut,
    FundingIn,
    InclusionProofOut,
    NetAccountOut,
)
from settlement.errors import ContractRevertedError, PaymentRejectedError
from settlement.escrow import ChannelView, EscrowDesk, Funding, NetAccountView

escrow_router = APIRouter(prefix="/v1", tags=["escrow"])
REFUSALS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


async def _escrow(request: Request) -> EscrowDesk:
    escrow: EscrowDesk | None = request.app.state.escrow
    if escrow is None:
        raise HTTPException(404, detail="channel and net modes are not served here")
    return escrow


Escrow = Annotated[EscrowDesk, Depends(_escrow)]


@asynccontextmanager
async def _refusals_as_http() -> AsyncIterator[None]:
    """A refused signature or a contract revert is the caller's error: 400 with the reason."""
    try:
        yield
    except PaymentRejectedError as rejection:
        raise HTTPException(400, detail=str(rejection)) from None
    except ContractRevertedError as revert:
        raise HTTPException(400, detail=f"the contract refused: {revert}") from None
    except LookupError as missing:
        raise HTTPException(404, detail=str(missing)) from None


@escrow_router.post("/channels", status_code=201, response_model=ChannelOut, responses=REFUSALS)
async def open_channel(body: ChannelOpenIn, escrow: Escrow) -> ChannelOut:
    """Open a channel funded by the payer's authorization (nonce: the channel id)."""
    async with _refusals_as_http():
        payee = checked_address(body.payee, "payee")
        view = await escrow.open_channel(payee, _bytes32(body.salt), _funding(body.funding))
    return _channel_out(view)


@escrow_router.post("/channels/{channel_id}/top-ups", response_model=ChannelOut, responses=REFUSALS)
async def top_up_channel(
    channel_id: Bytes32Path, body: ChannelTopUpIn, escrow: Escrow
) -> ChannelOut:
    """Add to a channel's deposit (nonce: ``keccak(channel id, top-up salt)``)."""
    async with _refusals_as_http():
        view = await escrow.top_up_channel(
            _bytes32(channel_id), _bytes32(body.top_up_salt), _funding(body.funding)
        )
    return _channel_out(view)


@escrow_router.get("/channels/{channel_id}", response_model=ChannelOut, responses=REFUSALS)
async def channel_state(channel_id: Bytes32Path, escrow: Escrow) -> ChannelOut:
    """A channel's deposit and claims on chain, and the vouchers the service has accepted."""
    async with _refusals_as_http():
        view = await escrow.channel(_bytes32(channel_id))
    return _channel_out(view)


@escrow_router.post(
    "/net/deposits", status_code=201, response_model=NetAccountOut, responses=REFUSALS
)
async def deposit(body: DepositIn, escrow: Escrow) -> NetAccountOut:
    """Deposit into net settlement by the account's authorization with the given nonce."""
    async with _refusals_as_http():
        view = await escrow.deposit(_bytes32(body.nonce), _funding(body.funding))
    return _net_account_out(view)


@escrow_router.get("/net/accounts/{address}", response_model=NetAccountOut, responses=REFUSALS)
async def net_account(address: AddressPath, escrow: Escrow) -> NetAccountOut:
    account = path_address(address, "address")
    async with _refusals_as_http():
        view = await escrow.net_account(account)
    return _net_account_out(view)


@escrow_router.get(
    "/payments/{payment_id}/inclusion", response_model=InclusionProofOut, responses=REFUSALS
)
async def inclusion_proof(payment_id: Bytes32Path, escrow: Escrow) -> InclusionProofOut:
    """The Merkle proof that a confirmed net payment is in its window's root on chain."""
    async with _refusals_as_http():
        proof = await escrow.inclusion_proof(payment_id.lower())
    return InclusionProofOut(**proof.__dict__)


def _funding(body: FundingIn) -> Funding:
    return Funding(
        payer=checked_address(body.payer, "payer"),
        amount_base_units=body.amount_base_units,
        valid_after=body.valid_after,
        valid_before=body.valid_before,
        signature=bytes.fromhex(body.signature[2:]),
    )


def _bytes32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def _channel_out(view: ChannelView) -> ChannelOut:
    return ChannelOut(**view.__dict__)


def _net_account_out(view: NetAccountView) -> NetAccountOut:
    return NetAccountOut(**view.__dict__)
