"""Does Anvil keep a consistent chain when ``evm_revert`` races the transactions it is mining?

Each round snapshots the chain, sends a burst of signed transfers, rewinds to the snapshot, then
sends the same transfers again so that the chain grows back. ``--racing`` rewinds while the burst
is still arriving; without it the rewind waits until Anvil has mined the whole burst, as the
fault tests do (``tests/settlement/faults/test_reorg.py``). After each round the script checks:

- every block from 0 to the head exists (no holes);
- each block's parent hash is the hash of the block below it;
- the sender's nonces run 0, 1, 2, ... through the blocks;
- the burst sent again is mined (the pool is not stuck).

    python bench/anvil_revert_race.py --racing     # rewinds mid-burst
    python bench/anvil_revert_race.py              # rewinds on a quiet chain

Findings are in docs/anvil-revert-race.md. The exit code is 1 when ``--expect-consistent`` is
given and a check failed, otherwise 0: the script measures Anvil, it does not judge it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from eth_account.signers.local import LocalAccount

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
from settlement.chain.dev_accounts import anvil_dev_account
from settlement.config import REPOSITORY_ROOT

CHAIN_ID = 31337
# Longest a racing rewind waits after the burst starts: the burst takes a few milliseconds.
RACE_WINDOW_S = 0.05
MINED_WAIT_S = 5.0
POLL_S = 0.02
RPC_TIMEOUT_S = 10.0


@dataclass
class Findings:
    """What went wrong, by kind: the blocks affected, and the round each kind first showed."""

    rounds: int = 0
    broken: dict[str, set[int]] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)
    stuck_pool: str | None = None

    def found(self, kind: str, block: int) -> None:
        self.broken.setdefault(kind, set()).add(block)
        self.first_seen.setdefault(kind, self.rounds)

    @property
    def consistent(self) -> bool:
        return not self.broken and self.stuck_pool is None


HOLE = "blocks missing below the head"
BROKEN_LINK = "blocks whose parent is not the block below"
NONCE_DISORDER = "blocks holding the sender's nonces out of order"


class Rpc:
    """A bare JSON-RPC client: the script watches Anvil, not the settlement service."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        timeout = aiohttp.ClientTimeout(total=RPC_TIMEOUT_S)
        async with self.session.post(self.url, json=body, timeout=timeout) as response:
            answer = await response.json()
        return answer.get("result")

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = [
            {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
            for index, (method, params) in enumerate(calls)
        ]
        timeout = aiohttp.ClientTimeout(total=RPC_TIMEOUT_S)
        async with self.session.post(self.url, json=body, timeout=timeout) as response:
            answers: list[dict[str, Any]] = await response.json()
        return [answer.get("result") for answer in sorted(answers, key=lambda a: a["id"])]

    async def count(self, address: str, tag: str = "latest") -> int:
        return int(await self.call("eth_getTransactionCount", address, tag), 16)

    async def head(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)


def burst(sender: LocalAccount, first_nonce: int, size: int) -> list[str]:
    """``size`` signed transfers of 1 wei to the sender itself, nonces from ``first_nonce``."""
    return [
        sender.sign_transaction(
            {
                "type": 2,
                "chainId": CHAIN_ID,
                "nonce": nonce,
                "to": sender.address,
                "value": 1,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
            }
        ).raw_transaction.to_0x_hex()
        for nonce in range(first_nonce, first_nonce + size)
    ]


async def send_all(rpc: Rpc, raws: list[str]) -> None:
    """One JSON-RPC batch, in nonce order, as the relayer sends. (Separate requests racing each
    other strand transactions in Anvil's pool even without a rewind: see the doc.)"""
    await rpc.batch([("eth_sendRawTransaction", [raw]) for raw in raws])


async def until_mined(rpc: Rpc, address: str, nonce: int) -> bool:
    """Whether the sender's mined count reaches ``nonce`` within ``MINED_WAIT_S``."""
    deadline = time.monotonic() + MINED_WAIT_S
    while time.monotonic() < deadline:
        if await rpc.count(address) >= nonce:
            return True
        await asyncio.sleep(POLL_S)
    return False


async def until_quiet(rpc: Rpc) -> None:
    """Until nothing waits in the pool to be mined and the head stays put."""
    last = -1
    while True:
        status = await rpc.call("txpool_status")
        current = await rpc.head()
        if int(status["pending"], 16) == 0 and current == last:
            return
        last = current
        await asyncio.sleep(POLL_S)


async def check_chain(rpc: Rpc, address: str, findings: Findings) -> None:
    """Walk the chain from block 0: holes, parent links, the sender's nonce order."""
    head = await rpc.head()
    previous: dict[str, Any] | None = None
    expected_nonce = 0
    for number in range(head + 1):
        block = await rpc.call("eth_getBlockByNumber", hex(number), True)
        if block is None:
            findings.found(HOLE, number)
            previous = None
            continue
        if previous is not None and block["parentHash"] != previous["hash"]:
            findings.found(BROKEN_LINK, number)
        for transaction in block["transactions"]:
            if transaction["from"].lower() != address.lower():
                continue
            nonce = int(transaction["nonce"], 16)
            if nonce != expected_nonce:
                findings.found(NONCE_DISORDER, number)
            expected_nonce = nonce + 1
        previous = block


async def one_round(
    rpc: Rpc, sender: LocalAccount, size: int, racing: bool, rng: np.random.Generator
) -> bool:
    """Snapshot, burst, rewind, burst again; whether the second burst was mined."""
    base = await rpc.count(sender.address, "pending")
    snapshot = await rpc.call("evm_snapshot")
    raws = burst(sender, base, size)

    async def rewind() -> None:
        if racing:
            await asyncio.sleep(float(rng.uniform(0, RACE_WINDOW_S)))
        else:
            await sending
            await until_quiet(rpc)
        await rpc.call("evm_revert", snapshot)

    sending = asyncio.ensure_future(send_all(rpc, raws))
    await asyncio.gather(sending, rewind())
    await send_all(rpc, raws)
    return await until_mined(rpc, sender.address, base + size)


async def measure(rounds: int, size: int, racing: bool, seed: int) -> Findings:
    sender = anvil_dev_account(0)
    rng = np.random.default_rng(seed)
    findings = Findings()
    with EmbeddedAnvil(find_anvil_binary(REPOSITORY_ROOT / "contracts")) as url:
        async with aiohttp.ClientSession() as session:
            rpc = Rpc(session, url)
            for _ in range(rounds):
                findings.rounds += 1
                mined = await one_round(rpc, sender, size, racing, rng)
                await check_chain(rpc, sender.address, findings)
                if not mined:
                    status = await rpc.call("txpool_status")
                    findings.stuck_pool = (
                        f"round {findings.rounds}: the burst sent again was not mined within "
                        f"{MINED_WAIT_S:.0f} s ({int(status['pending'], 16)} pending, "
                        f"{int(status['queued'], 16)} queued in the pool)"
                    )
                    break
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="rounds to run (default 40)")
    parser.add_argument("--burst", type=int, default=30, help="transfers per burst (default 30)")
    parser.add_argument("--racing", action="store_true", help="rewind while the burst arrives")
    parser.add_argument("--seed", type=int, default=7, help="seed of the rewind moments")
    parser.add_argument(
        "--expect-consistent", action="store_true", help="exit 1 if any check failed"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.burst < 1:
        parser.error("--rounds and --burst must be at least 1")
    findings = asyncio.run(measure(args.rounds, args.burst, args.racing, args.seed))
    how = "racing the burst" if args.racing else "on a quiet chain"
    print(f"Anvil rewound {findings.rounds} times {how}, {args.burst} transfers a burst:")
    for kind in (HOLE, BROKEN_LINK, NONCE_DISORDER):
        blocks = sorted(findings.broken.get(kind, ()))
        seen = f" (from round {findings.first_seen[kind]}: {_few(blocks)})" if blocks else ""
        print(f"  {kind:<50} {len(blocks)}{seen}")
    print(f"  {'pool stuck, mining nothing more':<50} {findings.stuck_pool or 'no'}")
    return 1 if args.expect_consistent and not findings.consistent else 0


def _few(numbers: list[int], shown: int = 5) -> str:
    listed = ", ".join(str(number) for number in numbers[:shown])
    return listed + (", ..." if len(numbers) > shown else "")


if __name__ == "__main__":
    sys.exit(main())
