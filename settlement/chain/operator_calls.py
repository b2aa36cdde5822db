"""Many operator transactions sent at once, then awaited together."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_account.types import AccessList
from eth_typing import HexStr

from settlement.chain.client import ChainClient
from settlement.errors import ChainError

OPERATOR_CALL_GAS = 150_000


async def send_operator_calls(
    client: ChainClient, operator: LocalAccount, calls: Sequence[tuple[str, str]]
) -> int:
    """Send ``(to, calldata)`` calls as consecutive transactions in one JSON-RPC batch and wait
    for all of them (with interval mining, one by one takes a block each); the gas they used."""
    if not calls:
        return 0
    fees = await client.fees()
    raw = []
    for to, data in calls:
        # Each nonce from the manager: the relayer may be sending from this account meanwhile.
        transaction: dict[str, AccessList | bytes | HexStr | int] = {
            "type": 2,
            "chainId": client.chain_id,
            "nonce": await client.nonces.allocate(operator.address),
            "to": HexStr(to),
            "value": 0,
            "gas": OPERATOR_CALL_GAS,
            "maxFeePerGas": 4 * fees.max_fee_per_gas_wei,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas_wei,
            "data": HexStr(data),
        }
        raw.append(operator.sign_transaction(transaction))
    answers = await client.batch_request(
        [("eth_sendRawTransaction", ["0x" + bytes(s.raw_transaction).hex()]) for s in raw]
    )
    refused = [answer["error"] for answer in answers if "error" in answer]
    if refused:
        # Later nonces now have a gap below them: the manager must ask the chain again.
        client.nonces.forget(operator.address)
        raise ChainError(f"{len(refused)} of {len(raw)} operator calls refused: {refused[0]}")
    return sum([(await client.wait_for_receipt(signed.hash)).gas_used for signed in raw])
