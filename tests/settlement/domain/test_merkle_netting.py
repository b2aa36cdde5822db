from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.domain.merkle import MerkleTree, hash_pair, payment_leaf, verify_proof
from settlement.domain.netting import Transfer, net_changes, overdrawn_accounts, sorted_for_chain

leaves = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70)
accounts = st.sampled_from([f"0x{index:040x}" for index in range(1, 9)])


@given(leaves)
def test_every_leaf_proves_its_inclusion_and_no_other_leaf_does(tree_leaves: list[bytes]) -> None:
    tree = MerkleTree(tree_leaves)
    for index, leaf in enumerate(tree_leaves):
        assert verify_proof(leaf, tree.proof(index), tree.root)
    outsider = b"\xff" * 32
    if outsider not in tree_leaves:
        assert not verify_proof(outsider, tree.proof(0), tree.root)


def test_two_leaves_hash_in_ascending_order() -> None:
    low, high = b"\x01" * 32, b"\x02" * 32
    assert MerkleTree([high, low]).root == hash_pair(low, high) == hash_pair(high, low)


def test_a_proof_for_a_missing_leaf_index_is_an_error() -> None:
    with pytest.raises(IndexError):
        MerkleTree([b"\x00" * 32]).proof(1)


def test_payment_leaf_is_double_hashed_and_binds_every_field() -> None:
    payer, payee = "0x" + "11" * 20, "0x" + "22" * 20
    base = payment_leaf(b"\x01" * 32, payer, payee, 5)
    assert base != payment_leaf(b"\x01" * 32, payer, payee, 6)
    assert base != payment_leaf(b"\x02" * 32, payer, payee, 5)
    assert base != payment_leaf(b"\x01" * 32, payee, payer, 5)


@given(st.lists(st.tuples(accounts, accounts, st.integers(1, 10**9)), max_size=50))
def test_net_changes_sum_to_zero_and_match_gross_flows(
    flows: list[tuple[str, str, int]],
) -> None:
    transfers = [Transfer(payer, payee, amount) for payer, payee, amount in flows if payer != payee]
    changes = net_changes(transfers)
    assert sum(changes.values()) == 0
    for account, change in changes.items():
        received = sum(t.amount_base_units for t in transfers if t.payee == account)
        paid = sum(t.amount_base_units for t in transfers if t.payer == account)
        assert change == received - paid != 0


def test_accounts_sort_numerically_for_the_contract() -> None:
    accounts_out, changes = sorted_for_chain({"0xB0" + "0" * 38: 5, "0x0A" + "0" * 38: -5})
    assert accounts_out == ["0x0A" + "0" * 38, "0xB0" + "0" * 38]
    assert changes == [-5, 5]


def test_overdrawn_accounts_are_found() -> None:
    assert overdrawn_accounts({"a": -10, "b": 10}, {"a": 9}) == ["a"]
    assert overdrawn_accounts({"a": -10, "b": 10}, {"a": 10}) == []
