"""A fleet's payment stream settles through the service in every mode, whole or for a sample."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from robots.settle import payments_among, settle_stream, stream_replay
from robots.stream import PURPOSES, PaymentStream
from settlement.config import Settings
from settlement.domain.payments import PaymentState, SettlementMode, payment_id
from settlement.replay import Replay
from settlement.runtime import SUPPORTED_MODES
from settlement.store import PaymentRecord, SqlPaymentStore

PARTICIPANTS = 6
PAYMENTS = 30
SAMPLE = (0, 1, 2, 3)
PHASES = ["funding", "signing", "accepting", "settling"]


def small_stream(seed: int) -> PaymentStream:
    """Six participants paying each other 30 times, every purpose six times."""
    rng = np.random.default_rng(seed)
    payers = rng.integers(0, PARTICIPANTS, size=PAYMENTS)
    # A shift of 1 to 5 places always lands on someone else.
    payees = (payers + rng.integers(1, PARTICIPANTS, size=PAYMENTS)) % PARTICIPANTS
    return PaymentStream(
        seed=seed,
        participant_count=PARTICIPANTS,
        steps=np.arange(PAYMENTS, dtype=np.int64) // 5,
        payers=payers,
        payees=payees,
        amounts_base_units=rng.integers(1, 50_000, size=PAYMENTS),
        purposes=np.arange(PAYMENTS, dtype=np.int64) % len(PURPOSES),
    )


def address_of(stream: PaymentStream, participant: int) -> str:
    return str(Account.from_key(stream.participant_key(participant)).address)


def expected_payment_ids(stream: PaymentStream, indices: list[int]) -> set[str]:
    """The ids the stream's payments carry in any mode: the payer's address and the payment's
    place in the stream."""
    return {
        "0x" + payment_id(address_of(stream, int(stream.payers[i])), f"s{i}").hex() for i in indices
    }


async def stored_payments(database_url: str, stream: PaymentStream) -> list[PaymentRecord]:
    store = await SqlPaymentStore.open(database_url)
    try:
        return [
            record
            for participant in range(stream.participant_count)
            for record in await store.list_for_payer(address_of(stream, participant), limit=1_000)
        ]
    finally:
        await store.close()


@pytest.mark.anvil
@pytest.mark.parametrize("mode", SUPPORTED_MODES, ids=[mode.value for mode in SUPPORTED_MODES])
async def test_a_stream_settles_whole_in_every_mode_under_the_same_payment_ids(
    mode: SettlementMode, anvil_rpc_url: str, contracts_dir: Path, tmp_path: Path
) -> None:
    stream = small_stream(seed=101)
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = Settings(
        rpc_url=anvil_rpc_url, contracts_dir=contracts_dir, database_url=database_url
    )

    result = await settle_stream(stream, mode, settings)

    assert (result.mode, result.payments_in_stream, result.sampled) == (mode, PAYMENTS, False)
    assert (result.payments_settled_attempted, result.settled, result.failed) == (
        PAYMENTS,
        PAYMENTS,
        0,
    )
    assert result.failure_reasons == {}
    assert result.value_settled_base_units == stream.total_base_units()
    assert (result.transactions > 0) is (mode is not SettlementMode.LEDGER)
    assert (result.setup_gas > 0) is (mode in (SettlementMode.CHANNEL, SettlementMode.NET))
    assert 0 < result.latency_ms_p50 <= result.latency_ms_p95 <= result.latency_ms_p99
    assert result.service_cpu_ns_per_payment > 0
    stored = await stored_payments(database_url, stream)
    assert {record.payment_id for record in stored} == expected_payment_ids(
        stream, list(range(PAYMENTS))
    )
    assert {record.state for record in stored} == {PaymentState.CONFIRMED}
    assert {record.purpose for record in stored} == set(PURPOSES)


@pytest.mark.anvil
async def test_a_sample_settles_exactly_the_payments_among_its_participants(
    anvil_rpc_url: str, contracts_dir: Path, tmp_path: Path
) -> None:
    stream = small_stream(seed=202)
    among = [
        i for i in range(PAYMENTS) if stream.payers[i] in SAMPLE and stream.payees[i] in SAMPLE
    ]
    assert 0 < len(among) < PAYMENTS
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = Settings(
        rpc_url=anvil_rpc_url, contracts_dir=contracts_dir, database_url=database_url
    )
    reports: list[tuple[str, int, int]] = []

    result = await settle_stream(
        stream,
        SettlementMode.CHANNEL,
        settings,
        participants=set(SAMPLE),
        on_progress=lambda phase, done, total: reports.append((phase, done, total)),
    )

    assert result.sampled
    assert (result.payments_in_stream, result.payments_settled_attempted) == (PAYMENTS, len(among))
    assert (result.settled, result.failed) == (len(among), 0)
    assert result.value_settled_base_units == sum(int(stream.amounts_base_units[i]) for i in among)
    stored = await stored_payments(database_url, stream)
    assert {record.payment_id for record in stored} == expected_payment_ids(stream, among)
    assert list(dict.fromkeys(phase for phase, _, _ in reports)) == PHASES
    for phase in PHASES:
        _, done, total = [report for report in reports if report[0] == phase][-1]
        assert done == total


def never_paid(stream: PaymentStream) -> PaymentStream:
    """The stream with every payment to the last participant sent to another one instead, so
    nothing it receives can make up for what it lacks."""
    last = stream.participant_count - 1
    payees = stream.payees.copy()
    to_last = payees == last
    # Payers other than the last are 0..last-1, and one place on (modulo last) is someone else.
    payees[to_last] = (stream.payers[to_last] + 1) % last
    return replace(stream, payees=payees)


@pytest.mark.anvil
async def test_a_payment_the_ledger_cannot_cover_is_reported_with_its_reason(
    contracts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = never_paid(small_stream(seed=303))
    short_payer = PARTICIPANTS - 1
    short_amounts = set(stream.amounts_base_units[stream.payers == short_payer].tolist())
    assert short_amounts
    funded_in_full = Replay.owed_per_payer

    def one_base_unit_short(replay: Replay) -> dict[int, int]:
        owed = funded_in_full(replay)
        owed[replay.participant_keys.index(stream.participant_key(short_payer))] -= 1
        return owed

    monkeypatch.setattr(Replay, "owed_per_payer", one_base_unit_short)
    # No rpc_url: the service starts an embedded Anvil of its own.
    settings = Settings(rpc_url=None, contracts_dir=contracts_dir)

    result = await settle_stream(stream, SettlementMode.LEDGER, settings)

    # Whatever order the payer's payments arrive in, only the last of them no longer fits; the
    # service refuses it at acceptance, saying what the payer holds and owes.
    assert (result.settled, result.failed) == (PAYMENTS - 1, 1)
    ((reason, count),) = result.failure_reasons.items()
    assert count == 1
    assert reason.startswith("insufficient ledger balance: ")
    assert stream.total_base_units() - result.value_settled_base_units in short_amounts


def test_a_sample_naming_someone_outside_the_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        payments_among(small_stream(seed=1), [0, PARTICIPANTS])


def test_a_sample_with_no_payment_between_its_participants_is_refused() -> None:
    stream = small_stream(seed=1)
    with pytest.raises(ValueError, match="no payment"):
        stream_replay(stream, payments_among(stream, [0]))
