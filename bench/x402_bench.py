"""Robots buying inference over x402 through this service as the facilitator: payments/s and gas.

    python bench/x402_bench.py                         # 40 robots, 10 bundles each, 32 in flight
    python bench/x402_bench.py --robots 100 --bundles 5 --concurrency 64

Each paid request is the whole x402 handshake with the official SDK on both sides: the robot's
client gets the 402, signs an ``exact`` authorization, sends it again; the compute provider's
middleware (``robots.compute_provider``) asks the facilitator (``settlement serve``'s ``/x402``)
to verify, serves the bundle, and asks it to settle, which answers once the payment is mined. So
a request's latency includes a settlement window (``--window-seconds``). ``exact`` payments
settle in authorization mode, one ``transferWithAuthorization`` each; gas per payment comes from
the receipts of the transactions the answers name. Figures go to ``--out``/x402_results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import uvloop
from eth_account import Account
from eth_account.signers.local import LocalAccount
from load_test import cpu_seconds, distribution_ms, spawned_service
from rich.console import Console
from x402.http import decode_payment_response_header
from x402.http.clients.httpx import x402AsyncTransport

from robots.compute_provider import INFERENCE_ROUTE, BundleOffer, compute_provider_app
from robots.x402_fleet import x402_buyer
from settlement.client import SettlementClient
from settlement.domain.payments import SettlementMode

BUNDLE_PRICE = 8 * 125  # 8 calls at 125 base units, the demo economy's inference price
console = Console(width=110)


async def buy(
    robot: LocalAccount, offer: BundleOffer, app: Any, bundles: int, gate: asyncio.Semaphore
) -> list[tuple[float, str]]:
    """One robot buying its bundles one after another: (latency s, transaction) each."""
    buyer = x402_buyer(robot, offer.network)
    transport = x402AsyncTransport(buyer, transport=httpx.ASGITransport(app=app))
    bought = []
    async with httpx.AsyncClient(transport=transport, base_url="http://provider") as http:
        for _ in range(bundles):
            async with gate:
                started = time.perf_counter()
                answer = await http.post(INFERENCE_ROUTE, timeout=120)
                latency = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"a paid request got {answer.status_code}: {answer.text[:200]}")
            receipt = decode_payment_response_header(answer.headers["PAYMENT-RESPONSE"])
            bought.append((latency, receipt.transaction))
    return bought


async def run(arguments: argparse.Namespace, url: str, api_key: str, pid: int) -> dict[str, Any]:
    robots = [Account.create() for _ in range(arguments.robots)]
    provider = Account.create().address
    async with SettlementClient(url, api_key=api_key) as service:
        terms = await service.terms()
        grant = BUNDLE_PRICE * arguments.bundles
        await service.faucet([{"address": r.address, "token_base_units": grant} for r in robots])
        offer = BundleOffer(
            provider, 8, BUNDLE_PRICE, terms.chain_id, terms.token,
            terms.token_domain.name, terms.token_domain.version,
        )  # fmt: skip
        app = compute_provider_app(offer, f"{url}/x402")
        gate = asyncio.Semaphore(arguments.concurrency)
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            bought = await asyncio.gather(
                *(buy(robot, offer, app, arguments.bundles, gate) for robot in robots)
            )
        elapsed = time.perf_counter() - started
        service_cpu_s = cpu_seconds(pid) - cpu_before
        paid = [purchase for purchases in bought for purchase in purchases]
        async with httpx.AsyncClient(base_url=url) as api:
            transactions = {tx for _, tx in paid}
            receipts = [(await api.get(f"/v1/transactions/{tx}")).json() for tx in transactions]
            provider_balance = (await api.get(f"/v1/balances/{provider}")).json()
    gas = sum(r["gas_used"] for r in receipts)
    settled = sum(r["payments_settled"] for r in receipts)
    return {
        "command": "python bench/x402_bench.py " + " ".join(sys.argv[1:]),
        "robots": arguments.robots,
        "bundles_per_robot": arguments.bundles,
        "concurrency": arguments.concurrency,
        "window_seconds": arguments.window_seconds,
        "batched": arguments.batched,
        "paid_requests": len(paid),
        "paid_per_s": round(len(paid) / elapsed, 1),
        "latency_ms": distribution_ms(sorted(latency for latency, _ in paid)),
        "transactions": len(transactions),
        "gas_per_payment": round(gas / settled) if settled else None,
        "modes": sorted({r["mode"] for r in receipts}),
        "service_cpu_us_per_payment": round(service_cpu_s / len(paid) * 1e6),
        "provider_paid_base_units": provider_balance["balance_base_units"],
        "expected_base_units": len(paid) * BUNDLE_PRICE,
    }


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, default=40)
    parser.add_argument("--bundles", type=int, default=10, help="bundles each robot buys")
    parser.add_argument("--concurrency", type=int, default=32, help="paid requests in flight")
    parser.add_argument("--window-seconds", type=float, default=0.5, help="serve's window")
    parser.add_argument(
        "--batched",
        action="store_true",
        help="settle many payments a transaction (SETTLEMENT_AUTHORIZATIONS_BATCHED)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / f"x402-{int(time.time())}")
    arguments = parser.parse_args(argv)
    if min(arguments.robots, arguments.bundles, arguments.concurrency) < 1:
        parser.error("--robots, --bundles and --concurrency must be at least 1")
    if arguments.window_seconds <= 0:
        parser.error("--window-seconds must be positive")
    return arguments


def main(argv: Sequence[str]) -> int:
    arguments = parse_arguments(argv)
    arguments.out.mkdir(parents=True, exist_ok=True)
    window = ("--window-seconds", str(arguments.window_seconds))
    with tempfile.TemporaryDirectory(prefix="x402-") as folder, spawned_service(
        SettlementMode.AUTHORIZATION, Path(folder), arguments.out / "serve.log",
        serve_args=window,
        settings_env={"SETTLEMENT_AUTHORIZATIONS_BATCHED": str(arguments.batched).lower()},
    ) as service:  # fmt: skip
        results = uvloop.run(run(arguments, service.url, service.api_key, service.pid))
    (arguments.out / "x402_results.json").write_text(json.dumps(results, indent=2) + "\n")
    latency = results["latency_ms"]
    console.print(
        f"x402 exact through the facilitator: {results['paid_requests']:,} paid requests, "
        f"{results['paid_per_s']:,.1f}/s, latency p50 {latency['p50']:,.0f} ms, "
        f"p99 {latency['p99']:,.0f} ms (a settlement window included), "
        f"{results['gas_per_payment']:,} gas per payment in {results['transactions']:,} "
        f"transactions ({', '.join(results['modes'])}), service CPU "
        f"{results['service_cpu_us_per_payment']:,} µs per payment"
    )
    if results["provider_paid_base_units"] != results["expected_base_units"]:
        print(
            f"x402_bench: the provider holds {results['provider_paid_base_units']}, "
            f"not {results['expected_base_units']}",
            file=sys.stderr,
        )
        return 1
    console.print(f"figures in {arguments.out / 'x402_results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
