"""A fleet's compute payments paid over HTTP 402 (``robots simulate --compute-over-x402``): each a
request to its provider's x402 resource server, paid with the official SDK's client, settled by
a running ``settlement serve`` as the facilitator, on a real Anvil."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from robots.model import PURPOSE_INDEX
from robots.stream import PaymentStream
from settlement.client import SettlementClient
from settlement.domain.payments import Purpose
from tests.cli_helpers import served
from tests.robots.test_settle_http import API_KEY, run_robots_with_key, settled_modes

pytestmark = pytest.mark.anvil


async def test_a_fleet_pays_every_compute_payment_once_over_x402(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with served(tmp_path, API_KEY, "--window-seconds", "0.2") as url:
        done = run_robots_with_key(
            "simulate", "--steps", "30", "--mode", "authorization", "--compute-over-x402",
            "--settlement-url", url, "--out", str(run),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        stream = PaymentStream.load(run / "stream.npz")
        compute = np.flatnonzero(stream.purposes == PURPOSE_INDEX[Purpose.COMPUTE])
        assert len(compute) > 0, "the run has compute payments to pay"
        x402 = json.loads((run / "settlement.json").read_text())["x402"]
        owed = owed_per_provider(stream, compute, x402["participant_key_tag"])
        async with SettlementClient(url) as service:
            held = {
                address: (await service.balance(address)).balance_base_units for address in owed
            }

    value = int(stream.amounts_base_units[compute].sum())
    assert (x402["attempted"], x402["paid"], x402["refused"]) == (len(compute), len(compute), 0)
    assert x402["value_paid_base_units"] == x402["value_received_base_units"] == value
    # Each provider holds the one base unit funding gives every payee, and its payments once.
    assert held == {address: amount + 1 for address, amount in owed.items()}
    assert 0 < x402["transactions"] <= len(compute)
    assert 50_000 < x402["gas_per_payment"] < 100_000, "one transferWithAuthorization each"
    assert float(x402["prices"]["base"]["usd_per_payment"]) > 0
    # The mode settled the whole stream beside it, with keys of its own.
    assert settled_modes(run)["authorization"]["settled"] == len(stream)
    assert f"x402: {len(compute)} of {len(compute)} compute payments paid" in done.stdout

    report = json.loads((run / "report.json").read_text())
    assert report["x402"]["paid"] == len(compute)
    assert report["x402"]["value_received_usd"] == value / 1_000_000
    assert "### Compute payments over x402" in (run / "report.md").read_text()
    assert "Compute payments over x402" in (run / "report.html").read_text()


async def test_the_compute_payments_alone_are_paid_over_x402_again_with_fresh_keys(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    with served(tmp_path, API_KEY, "--window-seconds", "0.2") as url:
        first = run_robots_with_key(
            "simulate", "--steps", "20", "--compute-over-x402", "--settlement-url", url,
            "--out", str(run),
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        before = json.loads((run / "settlement.json").read_text())
        again = run_robots_with_key(
            "settle", str(run), "--compute-over-x402", "--settlement-url", url
        )
        assert again.returncode == 0, again.stderr
        after = json.loads((run / "settlement.json").read_text())

    assert before["modes"] == after["modes"] == [], "no mode was asked for"
    for document in (before, after):
        assert document["x402"]["paid"] == document["x402"]["attempted"] > 0
        assert document["x402"]["refused"] == 0
    assert before["x402"]["participant_key_tag"] != after["x402"]["participant_key_tag"]
    assert "its compute payments were paid over x402" in (run / "report.md").read_text()


def owed_per_provider(stream: PaymentStream, compute: np.ndarray, key_tag: str) -> dict[str, int]:
    """What each provider is owed by the compute payments, by its address under ``key_tag``."""
    owed: dict[str, int] = defaultdict(int)
    for index in compute:
        payee = int(stream.payees[index])
        address = Account.from_key(stream.participant_key(payee, key_tag)).address
        owed[address] += int(stream.amounts_base_units[index])
    return dict(owed)
