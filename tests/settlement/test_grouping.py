"""Group commit for acceptance: requests that wait together are accepted in one pass, each gets
its own outcomes, and an error or a departed caller touches only what it should."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from settlement.grouping import AcceptanceGroups


class RecordingAcceptor:
    """Accepts items as ``f"ok:{item}"``; the first pass waits until released, so requests
    submitted meanwhile queue up behind it."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.passes: list[list[str]] = []
        self.release_first = asyncio.Event()
        self.fail_on = fail_on

    async def accept(self, items: Sequence[str]) -> list[str]:
        self.passes.append(list(items))
        if len(self.passes) == 1:
            await self.release_first.wait()
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError(f"the store refused {self.fail_on}")
        return [f"ok:{item}" for item in items]


async def _queued_behind_first(
    groups: AcceptanceGroups[str, str], acceptor: RecordingAcceptor, requests: list[list[str]]
) -> list[asyncio.Task[list[str]]]:
    """Start a first request that holds the pass, then ``requests``, all waiting behind it."""
    tasks = [asyncio.create_task(groups.submit(["first"]))]
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(groups.submit(items)) for items in requests]
    await asyncio.sleep(0)
    acceptor.release_first.set()
    return tasks


async def test_requests_waiting_together_are_accepted_in_one_pass_in_order() -> None:
    acceptor = RecordingAcceptor()
    groups = AcceptanceGroups(acceptor.accept)
    tasks = await _queued_behind_first(groups, acceptor, [["a"], ["b", "c"], ["d"]])
    answers = await asyncio.gather(*tasks)
    assert answers == [["ok:first"], ["ok:a"], ["ok:b", "ok:c"], ["ok:d"]]
    assert acceptor.passes == [["first"], ["a", "b", "c", "d"]]
    assert (groups.passes, groups.payments) == (2, 5)


async def test_a_pass_takes_whole_requests_up_to_its_bound_and_a_large_one_alone() -> None:
    acceptor = RecordingAcceptor()
    groups = AcceptanceGroups(acceptor.accept, max_group_payments=3)
    big = [f"big{i}" for i in range(5)]
    tasks = await _queued_behind_first(groups, acceptor, [["a", "b"], ["c", "d"], big, ["e"]])
    answers = await asyncio.gather(*tasks)
    assert answers[3] == [f"ok:{item}" for item in big]
    assert acceptor.passes == [["first"], ["a", "b"], ["c", "d"], big, ["e"]]


async def test_an_error_answers_every_request_of_its_pass_and_no_other() -> None:
    acceptor = RecordingAcceptor(fail_on="bad")
    groups = AcceptanceGroups(acceptor.accept, max_group_payments=2)
    tasks = await _queued_behind_first(groups, acceptor, [["bad"], ["x"], ["y"], ["z"]])
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == ["ok:first"]
    for failed in results[1:3]:
        assert isinstance(failed, RuntimeError)
        assert "the store refused bad" in str(failed)
    assert results[3:] == [["ok:y"], ["ok:z"]]
    assert acceptor.passes == [["first"], ["bad", "x"], ["y", "z"]]


async def test_a_caller_that_stops_waiting_leaves_its_items_to_be_accepted() -> None:
    acceptor = RecordingAcceptor()
    groups = AcceptanceGroups(acceptor.accept)
    first = asyncio.create_task(groups.submit(["first"]))
    await asyncio.sleep(0)
    departed = asyncio.create_task(groups.submit(["gone"]))
    staying = asyncio.create_task(groups.submit(["stays"]))
    await asyncio.sleep(0)
    departed.cancel()
    acceptor.release_first.set()
    assert await staying == ["ok:stays"]
    assert await first == ["ok:first"]
    with pytest.raises(asyncio.CancelledError):
        await departed
    # Accepted all the same: a retry under the same idempotency key finds it stored.
    assert acceptor.passes == [["first"], ["gone", "stays"]]


async def test_an_idle_service_accepts_a_lone_request_at_once_and_again_later() -> None:
    async def accept(items: Sequence[str]) -> list[str]:
        return [item.upper() for item in items]

    groups: AcceptanceGroups[str, str] = AcceptanceGroups(accept)
    assert await groups.submit(["a"]) == ["A"]
    assert await groups.submit([]) == []
    assert await groups.submit(["b", "c"]) == ["B", "C"]
    assert groups.passes == 2
