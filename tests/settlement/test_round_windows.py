"""How a net round packs payments into windows: the account limit, the window limit, and one
block's worth of gas for the round's windows together."""

from __future__ import annotations

import pytest

from settlement.settlers import net
from settlement.settlers.net import (
    WINDOW_GAS_BASE,
    WINDOW_GAS_PER_HELD_ACCOUNT,
    WINDOW_GAS_PER_NEW_ACCOUNT,
    RoundWindows,
)


def test_a_held_account_is_bounded_cheaper_than_one_new_to_the_contract() -> None:
    windows = RoundWindows({"a": 50, "b": 0})
    assert windows.make_room("a", "b")
    windows.add("p1", "a", "b", 10)
    assert windows.gas_bounds == [
        WINDOW_GAS_BASE + WINDOW_GAS_PER_HELD_ACCOUNT + WINDOW_GAS_PER_NEW_ACCOUNT
    ]
    assert (windows.change("a"), windows.change("b")) == (-10, 10)


def test_a_full_window_opens_the_next_with_the_earlier_changes_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(net, "MAX_WINDOW_ACCOUNTS", 2)
    windows = RoundWindows({"a": 50, "c": 5})
    assert windows.make_room("a", "b")
    windows.add("p1", "a", "b", 30)
    assert windows.make_room("b", "c")  # a third account: a second window
    assert (windows.balance_before("a"), windows.balance_before("b")) == (20, 30)
    assert windows.change("b") == 0
    windows.add("p2", "b", "c", 30)
    assert windows.window_of == {"p1": 0, "p2": 1}


def test_the_round_stops_at_its_window_limit_and_its_gas_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(net, "MAX_WINDOW_ACCOUNTS", 2)
    monkeypatch.setattr(net, "MAX_WINDOWS_PER_ROUND", 2)
    windows = RoundWindows({})
    for index, (payer, payee) in enumerate([("a", "b"), ("c", "d")]):
        assert windows.make_room(payer, payee)
        windows.add(f"p{index}", payer, payee, 1)
    assert not windows.make_room("e", "f"), "a third window is beyond the round's limit"
    assert windows.make_room("c", "d"), "accounts already in the open window still fit"

    two_new_accounts = WINDOW_GAS_BASE + 2 * WINDOW_GAS_PER_NEW_ACCOUNT
    monkeypatch.setattr(net, "ROUND_GAS_BUDGET", two_new_accounts + WINDOW_GAS_PER_NEW_ACCOUNT)
    monkeypatch.setattr(net, "MAX_WINDOW_ACCOUNTS", 600)
    budgeted = RoundWindows({})
    assert budgeted.make_room("a", "b")
    budgeted.add("p1", "a", "b", 1)
    assert budgeted.make_room("a", "c")
    assert not budgeted.make_room("d", "e"), "two more new accounts would pass the budget"
