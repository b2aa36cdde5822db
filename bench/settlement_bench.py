"""Replay one recorded workload through each settlement mode on a fresh Anvil; print the figures.

    python bench/settlement_bench.py                       # the reference workload, every mode
    python bench/settlement_bench.py --modes batch --payments 2000

Each mode gets its own Anvil and its own store, so no mode inherits another's warm state.
Anvil mines a block every ``--block-time`` seconds (1 by default, like a fast L2). Its default,
one block per transaction as it arrives, slows to about 40 transactions/s once thousands are
pending, which would measure Anvil's mempool rather than settlement; ``--block-time 0`` keeps it.
Payers and payees hold tokens before the run (steady state). Channel mode opens one channel per
payer and payee pair of the workload, and net mode deposits each payer's total, before the clock
starts; that funding is on-chain work the other modes do not need, so its gas is reported apart
("setup gas") and in the all-in figure.
Signing is the robots' work and is timed apart; "accepted/s" is the service verifying and storing
payments; "settled/s" runs from the first settlement round to the last confirmation; "end to end"
from the first submission to the last confirmation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.runtime import SUPPORTED_MODES, Runtime, running_service
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.ledger import deposit, ledger_domain
from settlement.wallet import ChainTerms, PayerWallet
from settlement.workload import Workload, reference_workload

ACCEPT_CHUNK = 1_000
ETH_FOR_DIRECT_PAYERS_WEI = 10 * 10**18
console = Console(width=170)


@dataclass
class ModeResult:
    mode: str
    payments: int
    settled: int
    failed: int
    transactions: int
    sign_s: float
    accept_s: float
    settle_s: float
    end_to_end_s: float
    gas_total: int
    setup_gas: int
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    # This process's CPU time (verification, store, book, relaying), not Anvil's.
    service_cpu_s: float

    @property
    def accepted_per_s(self) -> float:
        return self.payments / self.accept_s

    @property
    def settled_per_s(self) -> float:
        return self.settled / self.settle_s

    @property
    def end_to_end_per_s(self) -> float:
        return self.settled / self.end_to_end_s

    @property
    def gas_per_payment(self) -> float:
        return self.gas_total / max(self.settled, 1)

    @property
    def cpu_ns_per_payment(self) -> int:
        return round(self.service_cpu_s * 1e9 / max(self.settled, 1))

    @property
    def all_in_gas_per_payment(self) -> float:
        return (self.gas_total + self.setup_gas) / max(self.settled, 1)


async def bench_mode(
    mode: SettlementMode, workload: Workload, anvil_bin: Path, block_time_s: int
) -> ModeResult:
    mining = ["--block-time", str(block_time_s)] if block_time_s > 0 else []
    with EmbeddedAnvil(anvil_bin, extra_args=mining) as rpc_url:
        settings = Settings(rpc_url=rpc_url, window_max_payments=1_000)
        async with running_service(settings, [mode]) as runtime:
            wallets = await fund_participants(runtime, workload, mode)
            terms = await chain_terms(runtime)
            setup_gas = await fund_escrow(runtime, workload, mode, wallets, terms)
            started = time.perf_counter()
            submissions = sign_all(mode, workload, wallets, terms)
            sign_s = time.perf_counter() - started
            return await run(runtime, mode, submissions, sign_s, setup_gas)


async def fund_participants(
    runtime: Runtime, workload: Workload, mode: SettlementMode
) -> list[PayerWallet]:
    client = runtime.session.client
    owed = [0] * workload.payer_count
    for payment in workload.payments:
        owed[payment.payer] += payment.amount_base_units
    wallets = [PayerWallet(workload.payer_key(index)) for index in range(workload.payer_count)]
    payees = [
        PayerWallet(workload.payee_key(index)).address for index in range(workload.payee_count)
    ]
    funds = [(wallet.address, max(amount, 1)) for wallet, amount in zip(wallets, owed, strict=True)]
    if mode is SettlementMode.LEDGER:
        # The baseline's money is a deposit on the ledger, not tokens on chain.
        for address, amount in funds:
            assert deposit(runtime.ledger, address, amount, b"bench") == "ok"
        return wallets
    await mint_all(runtime, funds + [(payee, 1) for payee in payees])
    if mode is SettlementMode.DIRECT:
        await client.batch_request(
            [("anvil_setBalance", [w.address, hex(ETH_FOR_DIRECT_PAYERS_WEI)]) for w in wallets]
        )
    return wallets


async def mint_all(runtime: Runtime, mints: list[tuple[str, int]]) -> None:
    token = runtime.token
    await send_all(
        runtime,
        [(token.address, token.encode("mint", address, amount)) for address, amount in mints],
    )


async def send_all(runtime: Runtime, calls: list[tuple[str, str]], gas: int = 150_000) -> int:
    """Send the operator's calls at once and wait for all (with interval mining, one by one
    takes a block each); the gas they used."""
    client, operator = runtime.session.client, runtime.session.operator
    fees = await client.fees()
    first_nonce = await client.nonces.allocate(operator.address)
    raw = []
    for offset, (to, data) in enumerate(calls):
        transaction = {
            "type": 2,
            "chainId": client.chain_id,
            "nonce": first_nonce + offset,
            "to": to,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": 4 * fees.max_fee_per_gas_wei,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas_wei,
            "data": data,
        }
        raw.append(operator.sign_transaction(transaction))
    client.nonces.forget(operator.address)
    await client.batch_request(
        [("eth_sendRawTransaction", ["0x" + bytes(s.raw_transaction).hex()]) for s in raw]
    )
    return sum([(await client.wait_for_receipt(signed.hash)).gas_used for signed in raw])


async def fund_escrow(
    runtime: Runtime,
    workload: Workload,
    mode: SettlementMode,
    wallets: list[PayerWallet],
    terms: ChainTerms,
) -> int:
    """Open the channels or make the deposits the workload needs; the gas that took."""
    payees = [PayerWallet(workload.payee_key(i)).address for i in range(workload.payee_count)]
    owed: dict[tuple[int, int], int] = {}
    for payment in workload.payments:
        pair = (payment.payer, payment.payee)
        owed[pair] = owed.get(pair, 0) + payment.amount_base_units
    channels, net = runtime.contracts.channels, runtime.contracts.net
    if mode is SettlementMode.CHANNEL and channels is not None:
        calls = []
        for (payer, payee), amount in owed.items():
            salt, funding = wallets[payer].channel_funding(payees[payee], amount, terms)
            calls.append(
                (
                    channels.address,
                    channels.encode(
                        "open",
                        funding.payer,
                        payees[payee],
                        salt,
                        amount,
                        funding.valid_after,
                        funding.valid_before,
                        funding.signature,
                    ),
                )
            )
        gas = await send_all(runtime, calls)
        for wallet in wallets:  # booked now, so acceptance does not read the chain
            for channel in wallet.channels.values():
                await runtime.escrow.channel(channel.channel_id)
        return gas
    if mode is SettlementMode.NET and net is not None:
        per_payer: dict[int, int] = {}
        for (payer, _), amount in owed.items():
            per_payer[payer] = per_payer.get(payer, 0) + amount
        calls = []
        for payer, amount in per_payer.items():
            funding = wallets[payer].net_deposit(amount, terms)
            calls.append(
                (
                    net.address,
                    net.encode(
                        "deposit",
                        funding.payer,
                        amount,
                        funding.valid_after,
                        funding.valid_before,
                        funding.nonce,
                        funding.signature,
                    ),
                )
            )
        return await send_all(runtime, calls)
    return 0


async def chain_terms(runtime: Runtime) -> ChainTerms:
    client = runtime.session.client
    fees = await client.fees()
    channels, net = runtime.contracts.channels, runtime.contracts.net
    return ChainTerms(
        chain_id=client.chain_id,
        token=runtime.token.address,
        token_domain=runtime.token.domain,
        chain_time=await client.latest_block_timestamp(),
        # Direct payers sign once for the whole run, so their fee cap must outlast base fee rises.
        max_fee_per_gas_wei=4 * fees.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=fees.max_priority_fee_per_gas_wei,
        channels_domain=channels.voucher_domain if channels else None,
        net_domain=net.payment_domain if net else None,
        ledger_domain=ledger_domain(client.chain_id, runtime.token.address),
    )


def workload_idempotency_key(index: int) -> str:
    """The idempotency key of the workload's payment ``index``; the ledger bench uses it too, so
    its transfer ids name the same payments as this bench's."""
    return f"w{index}"


def sign_all(
    mode: SettlementMode, workload: Workload, wallets: list[PayerWallet], terms: ChainTerms
) -> list[PaymentSubmission]:
    """Every payer signs its payments; direct transactions are signed in parallel processes."""
    payees = [PayerWallet(workload.payee_key(i)).address for i in range(workload.payee_count)]
    if mode is not SettlementMode.DIRECT:
        return [
            wallets[p.payer].submission(
                mode,
                workload_idempotency_key(index),
                payees[p.payee],
                p.amount_base_units,
                p.purpose,
                terms,
            )
            for index, p in enumerate(workload.payments)
        ]
    by_payer: dict[int, list[tuple[int, str, int, str]]] = {}
    for index, p in enumerate(workload.payments):
        by_payer.setdefault(p.payer, []).append(
            (index, payees[p.payee], p.amount_base_units, p.purpose.value)
        )
    with ProcessPoolExecutor() as pool:
        chunks = pool.map(
            sign_direct_chunk,
            [workload.payer_key(payer) for payer in by_payer],
            list(by_payer.values()),
            [terms] * len(by_payer),
        )
        signed = [item for chunk in chunks for item in chunk]
    return [submission for _, submission in sorted(signed, key=lambda item: item[0])]


def sign_direct_chunk(
    private_key: bytes, payments: list[tuple[int, str, int, str]], terms: ChainTerms
) -> list[tuple[int, PaymentSubmission]]:
    from settlement.domain.payments import Purpose  # noqa: PLC0415 - runs in a worker process

    wallet = PayerWallet(private_key)
    return [
        (
            index,
            wallet.submission(
                SettlementMode.DIRECT,
                workload_idempotency_key(index),
                payee,
                amount,
                Purpose(purpose),
                terms,
            ),
        )
        for index, payee, amount, purpose in payments
    ]


async def run(
    runtime: Runtime,
    mode: SettlementMode,
    submissions: list[PaymentSubmission],
    sign_s: float,
    setup_gas: int,
) -> ModeResult:
    service = runtime.service
    accept_started = time.perf_counter()
    cpu_started = time.process_time()
    for start in range(0, len(submissions), ACCEPT_CHUNK):
        outcomes = await service.submit(submissions[start : start + ACCEPT_CHUNK])
        refused = [outcome.rejection for outcome in outcomes if not outcome.created]
        assert not refused, f"the workload must be accepted whole: {refused[:3]}"
    accept_s = time.perf_counter() - accept_started
    settle_started = time.perf_counter()
    settled = failed = transactions = gas_total = 0
    while True:
        report = await service.settle_round(mode)
        if report.transactions == 0 and report.settled + report.failed == 0:
            break  # nothing was left to lease (the ledger settles without transactions)
        settled, failed = settled + report.settled, failed + report.failed
        transactions += report.transactions
        gas_total += sum(mined.gas_used for mined in report.mined)
    finished = time.perf_counter()
    service_cpu_s = time.process_time() - cpu_started
    latencies = await confirmation_latencies_ms(runtime, mode)
    return ModeResult(
        mode=mode.value,
        payments=len(submissions),
        settled=settled,
        failed=failed,
        transactions=transactions,
        sign_s=sign_s,
        accept_s=accept_s,
        settle_s=finished - settle_started,
        end_to_end_s=finished - accept_started,
        gas_total=gas_total,
        setup_gas=setup_gas,
        latency_ms_p50=percentile(latencies, 50),
        latency_ms_p95=percentile(latencies, 95),
        latency_ms_p99=percentile(latencies, 99),
        service_cpu_s=service_cpu_s,
    )


async def confirmation_latencies_ms(runtime: Runtime, mode: SettlementMode) -> list[float]:
    """Acceptance to confirmation of every settled payment, from the store's timestamps."""
    timings = await runtime.store.confirmation_timings(mode)
    return [(confirmed - accepted) * 1000 for accepted, confirmed in timings]


def percentile(values: list[float], rank: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[rank - 1]


def print_results(results: list[ModeResult], workload: Workload, block_time_s: int) -> None:
    direct = next((r for r in results if r.mode == SettlementMode.DIRECT.value), None)
    table = Table(
        title=f"{len(workload.payments):,} payments, {workload.payer_count} payers, "
        f"{workload.payee_count} payees (seed {workload.seed}), Anvil block time {block_time_s} s"
    )
    columns = [
        "mode",
        "settled",
        "txs",
        "gas/payment",
        "all-in gas/payment",
        "accepted/s",
        "settled/s",
        "end to end/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "CPU µs/pay",
        "gas vs direct",
        "speed vs direct",
    ]
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for result in results:
        gas_ratio = f"{result.gas_per_payment / direct.gas_per_payment:.3f}x" if direct else "-"
        speed_ratio = f"{result.end_to_end_per_s / direct.end_to_end_per_s:.1f}x" if direct else "-"
        table.add_row(
            result.mode,
            f"{result.settled:,}",
            f"{result.transactions:,}",
            f"{result.gas_per_payment:,.0f}",
            f"{result.all_in_gas_per_payment:,.0f}",
            f"{result.accepted_per_s:,.0f}",
            f"{result.settled_per_s:,.0f}",
            f"{result.end_to_end_per_s:,.0f}",
            f"{result.latency_ms_p50:,.0f}",
            f"{result.latency_ms_p95:,.0f}",
            f"{result.latency_ms_p99:,.0f}",
            f"{result.cpu_ns_per_payment / 1000:,.0f}",
            gas_ratio,
            speed_ratio,
        )
    console.print(table)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--payers", type=int, default=100)
    parser.add_argument("--payees", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workload", type=Path, help="replay a recorded workload file instead")
    parser.add_argument("--modes", default=",".join(mode.value for mode in SUPPORTED_MODES))
    parser.add_argument(
        "--block-time", type=int, default=1, help="seconds; 0 mines per transaction"
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / f"bench-{int(time.time())}")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.payments <= 1_000_000:
        parser.error("--payments must be between 1 and 1,000,000")
    return arguments


async def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    workload = (
        Workload.load(arguments.workload)
        if arguments.workload
        else reference_workload(
            arguments.seed, arguments.payments, arguments.payers, arguments.payees
        )
    )
    modes = [SettlementMode(mode) for mode in arguments.modes.split(",")]
    arguments.out.mkdir(parents=True, exist_ok=True)
    workload.save(arguments.out / "workload.json")
    anvil_bin = find_anvil_binary(Settings().contracts_dir)
    results = []
    for mode in modes:
        console.print(f"[bold]{mode.value}[/bold]: replaying {len(workload.payments):,} payments")
        result = await bench_mode(mode, workload, anvil_bin, arguments.block_time)
        console.print(
            f"  {result.settled:,} settled, {result.failed} failed in {result.end_to_end_s:.1f} s"
        )
        results.append(result)
    print_results(results, workload, arguments.block_time)
    document = [
        asdict(result)
        | {
            "gas_per_payment": result.gas_per_payment,
            "all_in_gas_per_payment": result.all_in_gas_per_payment,
            "accepted_per_s": result.accepted_per_s,
            "settled_per_s": result.settled_per_s,
            "end_to_end_per_s": result.end_to_end_per_s,
            "cpu_ns_per_payment": result.cpu_ns_per_payment,
        }
        for result in results
    ]
    (arguments.out / "results.json").write_text(json.dumps(document, indent=2))
    console.print(f"workload and results in {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
