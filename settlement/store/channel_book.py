"""The store's book of payment channels: deposits seen on chain and vouchers accepted.

A voucher is accepted only if it moves its channel from exactly the amount accepted before to that
amount plus the payment, within the deposit: a conditional UPDATE, so concurrent vouchers for one
channel (even from service replicas on one PostgreSQL) cannot both build on the same predecessor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

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
    """Apply each voucher's channel step in order; payment id -> reason for those refused."""
    refused: dict[str, str] = {}
    now = time.time()
    for payment in new_payments:
        step = payment.channel_step
        if step is None:
            continue
        previous = step.cumulative_base_units - payment.intent.amount_base_units
        result = await connection.execute(
            channels.update()
            .where(
                channels.c.channel_id == step.channel_id,
                channels.c.payer == payment.intent.payer,
                channels.c.payee == payment.intent.payee,
                channels.c.accepted_cumulative_base_units == previous,
                channels.c.deposit_base_units >= step.cumulative_base_units,
            )
            .values(accepted_cumulative_base_units=step.cumulative_base_units, updated_at=now)
        )
        if result.rowcount != 1:
            found = await channels_by_id(connection, [step.channel_id])
            refused[payment.payment_id] = refusal(payment, found.get(step.channel_id))
    return refused


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
    connection: AsyncConnection, channel_ids: Sequence[str]
) -> dict[str, ChannelRecord]:
    if not channel_ids:
        return {}
    result = await connection.execute(
        sa.select(channels).where(channels.c.channel_id.in_(list(channel_ids)))
    )
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
