"""NetSettlement on Anvil driven from Python: deposits, a netted window, on-chain inclusion proofs.

The Merkle tree and the leaves are built by the Python domain code; the contract verifies them
with OpenZeppelin's MerkleProof, so this checks the two agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.artifacts import ContractArtifact, load_artifact
from settlement.chain.client import ChainClient
from settlement.chain.net_settlement import (
    MAX_DELTA,
    NET_SETTLEMENT_ARTIFACT,
    NetSettlementContract,
    pack_window_changes,
    unpack_window_changes,
)
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.merkle import MerkleTree, payment_leaf
from settlement.domain.messages import AuthorizationKind, TransferAuthorization, random_nonce
from settlement.domain.netting import Transfer, net_changes, sorted_for_chain
from settlement.errors import ContractRevertedError
from tests.conftest import RecordGas

pytestmark = pytest.mark.anvil

DEPOSIT = 1_000_000


@pytest.fixture
async def net(
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    stablecoin_artifact: ContractArtifact,
) -> NetSettlementContract:
    artifact = load_artifact(contracts_dir, NET_SETTLEMENT_ARTIFACT)
    return await NetSettlementContract.deploy(
        chain, artifact, admin, coin.address, token_abi=stablecoin_artifact.abi
    )


async def deposit(
    net: NetSettlementContract, coin: StablecoinContract, admin: LocalAccount, amount: int
) -> LocalAccount:
    account: LocalAccount = Account.create()
    await coin.mint(admin, account.address, amount)
    now = await coin.client.latest_block_timestamp()
    authorization = TransferAuthorization(
        account.address,
        net.address,
        amount,
        now - 1,
        now + 600,
        random_nonce(),
        AuthorizationKind.RECEIVE,
    )
    await net.deposit(admin, authorization.sign(account.key, coin.domain))
    return account


async def test_a_window_nets_balances_and_proves_each_payment(
    net: NetSettlementContract,
    coin: StablecoinContract,
    admin: LocalAccount,
    record_gas: RecordGas,
) -> None:
    alice, bob = [await deposit(net, coin, admin, DEPOSIT) for _ in range(2)]
    carol = Account.create()
    payments = [
        (b"\x01" * 32, Transfer(alice.address, bob.address, 300)),
        (b"\x02" * 32, Transfer(bob.address, alice.address, 100)),
        (b"\x03" * 32, Transfer(alice.address, carol.address, 50)),
    ]
    changes = net_changes(transfer for _, transfer in payments)
    accounts, deltas = sorted_for_chain(changes)
    leaves = [payment_leaf(pid, t.payer, t.payee, t.amount_base_units) for pid, t in payments]
    tree = MerkleTree(leaves)
    window_id = await net.next_window_id()
    receipt = await net.settle_window(admin, window_id, tree.root, len(payments), accounts, deltas)
    record_gas("settleWindow (3 payments, 3 accounts)", receipt.gas_used)

    # Alice paid 300 and 50 and received 100: one net change of -250 instead of three transfers.
    assert await net.balance_of(alice.address) == DEPOSIT - 250
    assert await net.balance_of(bob.address) == DEPOSIT + 200
    assert await net.balance_of(carol.address) == 50
    assert await net.next_window_id() == window_id + 1
    for index, (payment_id, transfer) in enumerate(payments):
        assert await net.verify_payment(
            window_id,
            payment_id,
            transfer.payer,
            transfer.payee,
            transfer.amount_base_units,
            tree.proof(index),
        )
    assert not await net.verify_payment(
        window_id, b"\x01" * 32, alice.address, bob.address, 301, tree.proof(0)
    )


async def test_a_window_that_would_overdraw_is_refused_whole(
    net: NetSettlementContract, coin: StablecoinContract, admin: LocalAccount
) -> None:
    alice = await deposit(net, coin, admin, 100)
    bob = Account.create()
    changes = net_changes([Transfer(alice.address, bob.address, 101)])
    accounts, deltas = sorted_for_chain(changes)
    tree = MerkleTree([payment_leaf(b"\x09" * 32, alice.address, bob.address, 101)])
    with pytest.raises(ContractRevertedError) as refused:
        await net.settle_window(admin, await net.next_window_id(), tree.root, 1, accounts, deltas)
    assert refused.value.error_name == "NetChangeExceedsDeposit"
    assert await net.balance_of(alice.address) == 100


def test_packed_changes_round_trip_and_keep_small_debits_cheap() -> None:
    accounts = ["0x" + "0a" * 20, "0x" + "b0" * 20]
    words = pack_window_changes(accounts, [-3, 3])
    assert words[0] == bytes.fromhex("0a" * 20) + (2**95 | 3).to_bytes(12, "big")
    assert words[1] == bytes.fromhex("b0" * 20) + (3).to_bytes(12, "big")
    unpacked_accounts, unpacked_deltas = unpack_window_changes(words)
    assert [account.lower() for account in unpacked_accounts] == accounts
    assert unpacked_deltas == [-3, 3]
    # Sign and magnitude: a small debit is zero bytes but for its flag and magnitude.
    assert words[0][20:].count(0) == 10
    with pytest.raises(AssertionError):
        pack_window_changes(accounts[:1], [MAX_DELTA + 1])


async def test_an_opened_payee_is_credited_and_an_emptied_payer_closes(
    net: NetSettlementContract, coin: StablecoinContract, admin: LocalAccount
) -> None:
    alice = await deposit(net, coin, admin, 100)
    bob = Account.create()
    assert not await net.is_open(bob.address)
    await net.open_accounts(admin, [bob.address])
    assert await net.is_open(bob.address)
    assert await net.balance_of(bob.address) == 0
    accounts, deltas = sorted_for_chain(net_changes([Transfer(alice.address, bob.address, 100)]))
    tree = MerkleTree([payment_leaf(b"\x07" * 32, alice.address, bob.address, 100)])
    await net.settle_window(admin, await net.next_window_id(), tree.root, 1, accounts, deltas)
    assert await net.balance_of(bob.address) == 100
    assert await net.balance_of(alice.address) == 0
    assert not await net.is_open(alice.address), "emptied, so closed"
