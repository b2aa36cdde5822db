"""The store's book of payment channels: deposits seen on chain and vouchers accepted.

A voucher is accepted only if it moves its channel from exactly the amount accepted before to that
amount plus the payment, within the deposit: a conditional UPDATE, so concurrent vouchers for one
channel (even from service replicas on one PostgreSQL) cannot both build on the same predecessor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from settlement.store.records import ChannelRecord, NewPayment
from settlement.store.schema import channels

# The contract allows deposits up to 2**96; the book stores them as BIGINT. Any deposit above this
# is larger than every voucher the service could accept, so clamping loses nothing.
MAX_BOOKED_DEPOSIT = 2**62


async def advance_channels(
    connection: AsyncConnection, new_payments: Sequence[NewPayment]
) -> dict[str, str]:
    """Apply each voucher's channel step in order; payment id -> reason for those refused.

    The channels are read under a row lock (PostgreSQL; SQLite's writer already holds the
    database), the steps are replayed in memory, and each channel is written once with where it
    ended up, conditional on where it started, so a concurrent writer can never be overwritten.
    """
    steps = [p for p in new_payments if p.channel_step is not None]
    if not steps:
        return {}
    channel_ids = sorted({p.channel_step.channel_id for p in steps if p.channel_step})
    booked = await channels_by_id(connection, channel_ids, lock=True)
    accepted = {cid: channel.accepted_cumulative_base_units for cid, channel in booked.items()}
    refused: dict[str, str] = {}
    for payment in steps:
        step = payment.channel_step
        assert step is not None, "filtered to voucher payments above"
        channel = booked.get(step.channel_id)
        if channel is None or not _follows_on(payment, channel, accepted[step.channel_id]):
            current = (
                replace(channel, accepted_cumulative_base_units=accepted[step.channel_id])
                if channel
                else None
            )
            refused[payment.payment_id] = refusal(payment, current)
            continue
        accepted[step.channel_id] = step.cumulative_base_units
    moved = [
        {"moved_id": cid, "started_at": booked[cid].accepted_cumulative_base_units, "ended_at": end}
        for cid, end in accepted.items()
        if end != booked[cid].accepted_cumulative_base_units
    ]
    if moved:
        result = await connection.execute(
            channels.update()
            .where(
                channels.c.channel_id == sa.bindparam("moved_id"),
                channels.c.accepted_cumulative_base_units == sa.bindparam("started_at"),
            )
            .values(
                accepted_cumulative_base_units=sa.bindparam("ended_at"), updated_at=time.time()
            ),
            moved,
        )
        assert result.rowcount == len(moved), "channel rows changed under their lock"
    return refused


def _follows_on(payment: NewPayment, channel: ChannelRecord, accepted: int) -> bool:
    step = payment.channel_step
    assert step is not None, "only voucher payments have a channel step"
    return (
        (channel.payer, channel.payee) == (payment.intent.payer, payment.intent.payee)
        and step.cumulative_base_units - payment.intent.amount_base_units == accepted
        and step.cumulative_base_units <= channel.deposit_base_units
    )


def refusal(payment: NewPayment, channel: ChannelRecord | None) -> str:
    """Why a voucher does not follow on from its channel's state."""
    step = payment.channel_step
    assert step is not None, "only voucher payments have a channel step"
    intent = payment.intent
    if channel is None:
        return f"unknown channel {step.channel_id}"
    if (channel.payer, channel.payee) != (intent.payer, intent.payee):
        return f"channel {step.channel_id} is from {channel.payer} to {channel.payee}"
    if step.cumulative_base_units > channel.deposit_base_units:
        return (
            f"voucher for {step.cumulative_base_units} exceeds the channel deposit "
            f"{channel.deposit_base_units}"
        )
    expected = channel.accepted_cumulative_base_units + intent.amount_base_units
    return (
        f"voucher out of order: the channel has accepted {channel.accepted_cumulative_base_units}, "
        f"so a payment of {intent.amount_base_units} needs a voucher for {expected}, "
        f"not {step.cumulative_base_units}"
    )


async def channels_by_id(
    connection: AsyncConnection, channel_ids: Sequence[str], *, lock: bool = False
) -> dict[str, ChannelRecord]:
    if not channel_ids:
        return {}
    query = sa.select(channels).where(channels.c.channel_id.in_(list(channel_ids)))
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    result = await connection.execute(query)
    return {
        row.channel_id: ChannelRecord(
            channel_id=row.channel_id,
            payer=row.payer,
            payee=row.payee,
            deposit_base_units=row.deposit_base_units,
            accepted_cumulative_base_units=row.accepted_cumulative_base_units,
        )
        for row in result
    }


def booked_row(channel: ChannelRecord) -> dict[str, object]:
    return {
        "channel_id": channel.channel_id,
        "payer": channel.payer,
        "payee": channel.payee,
        "deposit_base_units": min(channel.deposit_base_units, MAX_BOOKED_DEPOSIT),
        "accepted_cumulative_base_units": channel.accepted_cumulative_base_units,
        "updated_at": time.time(),
    }
