"""Stopping the windows: the round under way finishes, or is cancelled once the grace runs out."""

from __future__ import annotations

import asyncio
import logging

import pytest

from settlement.windows import stop_windows


async def test_a_stop_lets_the_round_under_way_finish() -> None:
    stop = asyncio.Event()
    finished: list[str] = []

    async def windows() -> None:
        await stop.wait()
        await asyncio.sleep(0.05)  # the round under way, finishing after the stop
        finished.append("round")

    task = asyncio.create_task(windows())
    await stop_windows(task, stop, grace_s=5.0)

    assert finished == ["round"]
    assert task.done()
    assert not task.cancelled()


async def test_a_round_that_outlasts_the_grace_is_cancelled_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()

    async def wedged() -> None:
        await asyncio.sleep(3600)  # a round waiting on a chain that stopped mining

    task = asyncio.create_task(wedged())
    with caplog.at_level(logging.WARNING, logger="settlement.windows"):
        await stop_windows(task, stop, grace_s=0.1)

    assert stop.is_set()
    assert task.cancelled()
    assert "cancelled" in caplog.text
    assert "reconciled at the next start" in caplog.text


async def test_a_round_that_fails_while_stopping_raises_its_error() -> None:
    stop = asyncio.Event()

    async def failing() -> None:
        await stop.wait()
        raise RuntimeError("the store went away")

    task = asyncio.create_task(failing())
    with pytest.raises(RuntimeError, match="the store went away"):
        await stop_windows(task, stop, grace_s=5.0)
