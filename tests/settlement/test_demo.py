"""The demo against the session's Anvil, and the CLI end to end with its own embedded Anvil."""

from __future__ import annotations

from pathlib import Path

import pytest

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.artifacts import load_artifact
from settlement.chain.session import open_chain
from settlement.chain.stablecoin import StablecoinContract
from settlement.config import Settings
from settlement.demo import PAYMENT_BASE_UNITS, run_demo
from settlement.errors import ConfigurationError
from tests.cli_helpers import run_settlement

pytestmark = pytest.mark.anvil


async def test_demo_settles_every_payment_each_way(anvil_rpc_url: str, contracts_dir: Path) -> None:
    settings = Settings(rpc_url=anvil_rpc_url, contracts_dir=contracts_dir)
    messages: list[str] = []
    async with open_chain(settings) as session:
        result = await run_demo(session, settings, payments_per_way=4, progress=messages.append)
        coin = StablecoinContract(
            session.client,
            load_artifact(contracts_dir, "Stablecoin"),
            result.token_address,
            "Robot Dollar",
        )
        supply = await coin.total_supply()
    assert [way.way for way in result.ways] == ["direct", "eip3009"]
    for way in result.ways:
        assert len(way.payments) == 4
        assert all(payment.gas_used > 21_000 for payment in way.payments)
        assert all(payment.fee_wei > 0 for payment in way.payments)
    direct, relayed = result.ways
    # Steady-state transfers cost the same but for calldata: each zero byte of the payee's address
    # costs 4 gas instead of 16, so 20 address bytes bound the spread at 240 gas.
    assert direct.gas_per_payment_max - direct.gas_per_payment_min <= 20 * (16 - 4)
    assert relayed.gas_per_payment_mean > direct.gas_per_payment_mean
    assert result.payment_base_units == PAYMENT_BASE_UNITS
    assert supply > 0
    assert "eip3009: 4/4 payments settled" in messages


async def test_demo_refuses_an_unbounded_run(anvil_rpc_url: str, contracts_dir: Path) -> None:
    settings = Settings(rpc_url=anvil_rpc_url, contracts_dir=contracts_dir)
    async with open_chain(settings) as session:
        with pytest.raises(ValueError, match="between 1 and"):
            await run_demo(session, settings, payments_per_way=0)


async def test_a_chain_that_is_not_local_needs_a_key(contracts_dir: Path) -> None:
    with EmbeddedAnvil(find_anvil_binary(contracts_dir), chain_id=1337) as rpc_url:
        settings = Settings(rpc_url=rpc_url, contracts_dir=contracts_dir)
        with pytest.raises(ConfigurationError, match="set SETTLEMENT_PRIVATE_KEY"):
            async with open_chain(settings):
                pass


def test_cli_demo_prints_gas_per_payment_per_way() -> None:
    done = run_settlement("demo", "--payments", "2")
    assert done.returncode == 0, done.stderr
    assert "Gas per payment of $0.001" in done.stdout
    assert "direct" in done.stdout
    assert "eip3009" in done.stdout


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (["demo", "--payments", "0"], 2, "is not in the range"),
        (["demo", "--payments", "many"], 2, "is not a valid integer"),
        (["demo", "--rpc-url", "http://127.0.0.1:1"], 1, "no answer from http://127.0.0.1:1"),
        (["deploy"], 2, "Missing option '--rpc-url'"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
    ],
)
def test_cli_bad_input_gives_one_line_and_a_nonzero_exit(
    args: list[str], code: int, reason: str
) -> None:
    done = run_settlement(*args)
    assert done.returncode == code
    assert reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("settlement: error: ")


def test_a_bad_private_key_is_reported_without_echoing_it(anvil_rpc_url: str) -> None:
    secret = "0xnot-a-key-but-secret-looking-1234"
    done = run_settlement(
        "demo",
        "--rpc-url",
        anvil_rpc_url,
        env={"SETTLEMENT_PRIVATE_KEY": secret, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1
    assert "SETTLEMENT_PRIVATE_KEY is not a valid private key" in done.stderr
    assert secret not in done.stderr + done.stdout
