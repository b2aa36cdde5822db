"""A replay over HTTP against a real service settling on its own windows, in every mode, with
the response to one submission lost on the way back: the client resends it with the same
idempotency keys and every payment settles exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from settlement.chain.stablecoin import StablecoinContract
from settlement.client import SettlementClient
from settlement.domain.eip712 import keccak256
from settlement.domain.payments import Purpose, SettlementMode
from settlement.remote_replay import replay_over_http
from settlement.replay import Replay, ReplayPayment
from settlement.settlers.ledger import wallet_balance
from settlement.wallet import PayerWallet
from settlement.windows import WindowPolicy, run_windows
from tests.settlement.api_helpers import EscrowedService, fleet_app

pytestmark = pytest.mark.anvil

OPERATOR_KEY = "remote-replay-key"
PARTICIPANTS = 5
PAYMENTS = 40
CONCURRENCY = 2


@dataclass
class Served:
    """The service's app behind a lossy transport, and its settlement windows."""

    transport: LosesFirstBatchAnswer
    stop: asyncio.Event
    windows: asyncio.Task[None]

    async def stop_windows(self) -> None:
        """Stop the windows after their current round, so the book has caught up."""
        self.stop.set()
        await self.windows


class LosesFirstBatchAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but drops the answer to the first payment batch, as a timeout
    after the service had already accepted it would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == "/v1/payments/batch" and self.lost == 0:
            self.lost += 1
            await response.aread()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def fleet_replay(name: str) -> Replay:
    """Participants of their own (keys from ``name``) paying round the circle in varied steps."""
    keys = [keccak256(f"remote replay {name} {n}".encode()) for n in range(PARTICIPANTS)]
    payments = []
    for n in range(PAYMENTS):
        payer = n % PARTICIPANTS
        step = 1 + (n // PARTICIPANTS) % (PARTICIPANTS - 1)  # never round to the payer itself
        payee = (payer + step) % PARTICIPANTS
        payments.append(ReplayPayment(payer, payee, 100 + n, Purpose.ENERGY, f"s{n}"))
    return Replay(keys, payments)


@pytest.fixture
async def served(
    escrowed: EscrowedService, coin: StablecoinContract, admin: LocalAccount
) -> AsyncIterator[Served]:
    app = fleet_app(escrowed, coin, admin, OPERATOR_KEY)
    policy = WindowPolicy(max_payments=15, max_wait_s=0.2)
    stop = asyncio.Event()
    windows = asyncio.create_task(
        run_windows(escrowed.service, dict.fromkeys(SettlementMode, policy), stop)
    )
    served = Served(LosesFirstBatchAnswer(httpx.ASGITransport(app=app)), stop, windows)
    try:
        yield served
    finally:
        await served.stop_windows()


@pytest.mark.parametrize("mode", list(SettlementMode))
async def test_every_payment_settles_once_though_an_answer_was_lost(
    served: Served,
    escrowed: EscrowedService,
    coin: StablecoinContract,
    mode: SettlementMode,
) -> None:
    # Keys of its own: the session's Anvil has seen other tests' payers and their nonces.
    replay = fleet_replay(f"{mode.value} {uuid.uuid4()}")
    async with SettlementClient(
        "http://settlement",
        api_key=OPERATOR_KEY,
        concurrency=CONCURRENCY,
        transport=served.transport,
    ) as client:
        remote = await replay_over_http(client, mode, replay)
    await served.stop_windows()

    figures = remote.outcome.measurement
    assert served.transport.lost == 1
    assert remote.requests_resent == 1
    # The lost batch was one lane's first chunk: all its payments came back as already accepted.
    assert 0 < remote.already_accepted <= PAYMENTS
    assert remote.outcome.refusals == {}
    assert remote.settle_failures == {}
    assert (figures.payments, figures.settled, figures.failed) == (PAYMENTS, PAYMENTS, 0)
    assert remote.value_settled_base_units == sum(p.amount_base_units for p in replay.payments)
    assert figures.latency_ms_p50 > 0
    assert figures.service_cpu_s > 0
    if mode is SettlementMode.LEDGER:
        assert figures.gas_total == figures.transactions == 0
    else:
        assert figures.gas_total > 0
        assert figures.transactions >= 1
    if mode in (SettlementMode.CHANNEL, SettlementMode.NET):
        assert figures.setup_gas > 0
    await assert_paid_once(replay, mode, escrowed, coin)


async def assert_paid_once(
    replay: Replay, mode: SettlementMode, escrowed: EscrowedService, coin: StablecoinContract
) -> None:
    """Each participant ends with what it was paid less what it paid: nothing moved twice."""
    wallets = [PayerWallet(key) for key in replay.participant_keys]
    net = [0] * PARTICIPANTS
    for payment in replay.payments:
        net[payment.payer] -= payment.amount_base_units
        net[payment.payee] += payment.amount_base_units
    owed = replay.owed_per_payer()
    if mode is SettlementMode.LEDGER:
        for index, wallet in enumerate(wallets):
            account = wallet_balance(escrowed.ledger, wallet.address)
            assert account is not None
            assert account.credits_posted - account.debits_posted == owed[index] + net[index]
        return
    reconciliation = await escrowed.service.reconcile_book()
    assert reconciliation.differences == []
    if mode in (SettlementMode.DIRECT, SettlementMode.AUTHORIZATION, SettlementMode.BATCH):
        balances = await coin.balances([wallet.address for wallet in wallets])
        for index, wallet in enumerate(wallets):
            assert balances[wallet.address] == max(owed.get(index, 0), 1) + net[index]
