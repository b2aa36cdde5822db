"""Routes of the cost model: the ``auto`` policy's choice, and the fee profiles it prices with.

The policy needs no chain: it prices the packaged mode cost shapes under a fee profile. An app
may put its own ``FeeBook`` (say, with a user's overrides) in ``app.state.fee_book``; without one
the packaged profiles serve. A profile nobody knows is a 404; inputs out of range, a rail given
as the chain, or a latency bound no mode can meet are a 400 with the reason.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from settlement.api.models import ErrorOut
from settlement.domain.fees import (
    FeeBook,
    load_fee_book,
)
from settlement.domain.policy import DEFAULT_FUNDING_LIFETIME_S, choose_mode
from settlement.errors import FeeProfileError, PolicyInputError, UnknownProfileError

policy_router = APIRouter(prefix="/v1", tags=["cost model"])
REFUSALS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


class CandidateOut(BaseModel):
    mode: str
    feasible: bool
    latency_s: str | None
    payments_per_transaction: str | None
    gas_per_payment: str | None
    l1_bytes_per_payment: str | None
    usd_per_payment: str | None
    share_of_value: str | None
    verdict: str
    rejection: str | None


class RailCostOut(BaseModel):
    """A rail's cost of the payment, or (``not_possible``) why the rail cannot take it."""

    rail: str
    usd_per_payment: str | None
    share_of_value: str | None
    not_possible: str | None
    break_even_usd: str | None
    minimum_charge_usd: str
    settlement_latency_s: str
    availability: str


class PolicyOut(BaseModel):
    """The chosen mode and every candidate; decimals are exact strings (USD, seconds, shares)."""

    profile: str
    amount_base_units: int
    pair_payments_per_hour: str
    latency_bound_s: str
    funding_lifetime_s: str
    mode: str
    usd_per_payment: str
    latency_s: str
    candidates: list[CandidateOut]
    rails: list[RailCostOut]
    explanation: str


class FeeProfileOut(BaseModel):
    name: str
    kind: str
    sources: list[str]
    as_of: date
    note: str


@cache
def packaged_fee_book() -> FeeBook:
    return load_fee_book()


async def _fee_book(request: Request) -> FeeBook:
    book: FeeBook | None = getattr(request.app.state, "fee_book", None)
    return book or packaged_fee_book()


Book = Annotated[FeeBook, Depends(_fee_book)]


@policy_router.get("/policy", response_model=PolicyOut, responses=REFUSALS)
async def get_policy(
    book: Book,
    profile: Annotated[
        str, Query(min_length=1, max_length=64, description="An EVM fee profile", examples=["base"])
    ],
    amount_base_units: Annotated[
        int, Query(description="Each payment's value (6 decimals)", examples=[2_000])
    ],
    pair_payments_per_hour: Annotated[
        Decimal, Query(description="Payments an hour between the pair", examples=["60"])
    ],
    latency_bound_s: Annotated[
        Decimal, Query(description="Seconds within which each payment settles", examples=["3600"])
    ],
    funding_lifetime_s: Annotated[
        Decimal, Query(description="Seconds a channel or a net deposit serves")
    ] = DEFAULT_FUNDING_LIFETIME_S,
) -> PolicyOut:
    """The cheapest settlement mode for a pair's payments on a chain, within a latency bound.

    Ranges are checked by the policy itself, so the API and the CLI refuse the same inputs.
    """
    try:
        choice = choose_mode(
            book.evm_profile(profile),
            amount_base_units,
            pair_payments_per_hour,
            latency_bound_s,
            funding_lifetime_s=funding_lifetime_s,
            rails=book.rails,
        )
    except UnknownProfileError as unknown:
        raise HTTPException(404, detail=str(unknown)) from None
    except (FeeProfileError, PolicyInputError) as refusal:
        raise HTTPException(400, detail=str(refusal)) from None
    return PolicyOut.model_validate(choice.as_dict())


@policy_router.get("/fee-profiles", response_model=list[FeeProfileOut])
async def list_fee_profiles(book: Book) -> list[FeeProfileOut]:
    """Every fee profile with its sources and the date its figures applied."""
    return [
        FeeProfileOut(
            name=profile.name,
            kind=profile.kind.value,
            sources=list(profile.provenance.sources),
            as_of=profile.provenance.as_of,
            note=profile.provenance.note,
        )
        for profile in book.profiles.values()
    ]
