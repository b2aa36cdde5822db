"""Two writers on one database: no id applies twice and no wallet overdraws.

Each writer is its own engine with its own connection, in its own thread, submitting batches
that overlap in transfer ids and spend from the same constrained wallet.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from settlement.ledger import AccountFlags, Ledger, PostgresLedger, SqliteLedger, Transfer
from tests.conftest import private_schema
from tests.settlement.ledger.helpers import balances, open_accounts, transfer

WRITERS = 2
BATCHES_PER_WRITER = 12
EVENTS_PER_BATCH = 50
WALLET_FUNDS = 2_000
ISSUER, WALLET, SHOP = 1, 2, 3


@contextmanager
def two_engines(engine: str, tmp_path: Path, schema: str) -> Iterator[list[Ledger]]:
    if engine == "sqlite":
        path = tmp_path / "shared.db"
        engines: list[Ledger] = [SqliteLedger(path) for _ in range(WRITERS)]
        yield engines
        for opened in engines:
            opened.close()
        return
    with private_schema(schema) as url:
        engines = [PostgresLedger(url) for _ in range(WRITERS)]
        try:
            yield engines
        finally:
            for opened in engines:
                opened.close()


def batches_for(writer: int) -> list[list[Transfer]]:
    """Spends from the wallet; every id is also sent by the other writer, in another order."""
    ids = list(range(1, BATCHES_PER_WRITER * EVENTS_PER_BATCH + 1))
    if writer % 2:
        ids.reverse()
    spends = [transfer(1_000 + i, WALLET, SHOP, 1 + i % 7) for i in ids]
    return [
        spends[start : start + EVENTS_PER_BATCH]
        for start in range(0, len(spends), EVENTS_PER_BATCH)
    ]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_concurrent_writers_apply_each_id_once(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    schema = request.getfixturevalue("postgres_schema") if engine == "postgresql" else ""
    with two_engines(engine, tmp_path, schema) as engines:
        open_accounts(engines[0], ISSUER, SHOP)
        open_accounts(engines[0], WALLET, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
        assert engines[0].create_transfers([transfer(1, ISSUER, WALLET, WALLET_FUNDS)]) == ["ok"]

        def run(writer: int) -> list[tuple[int, str]]:
            answers = []
            for batch in batches_for(writer):
                results = engines[writer].create_transfers(batch)
                answers += [(t.id, str(r)) for t, r in zip(batch, results, strict=True)]
            return answers

        with ThreadPoolExecutor(WRITERS) as pool:
            answers = [answer for each in pool.map(run, range(WRITERS)) for answer in each]

        accepted = [transfer_id for transfer_id, result in answers if result == "ok"]
        assert len(accepted) == len(set(accepted)), "an id was applied twice"
        assert {result for _id, result in answers} <= {"ok", "exists", "exceeds_credits"}
        spent = sum(t.amount for t in engines[1].lookup_transfers(accepted))
        assert spent <= WALLET_FUNDS
        assert balances(engines[1], WALLET) == (0, spent, 0, WALLET_FUNDS)
        assert balances(engines[0], SHOP) == (0, 0, 0, spent)
        # The wallet ran dry: the refusals are real, not an artefact of the race.
        assert WALLET_FUNDS - spent < 7
        assert all(totals.balanced for totals in engines[0].totals())
