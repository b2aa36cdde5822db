"""`settlement serve` as a user runs it: starts, answers, settles by window, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from settlement.chain.anvil import free_loopback_port
from tests.cli_helpers import serve_command, wait_for_health

pytestmark = pytest.mark.anvil


def test_serve_answers_health_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_loopback_port()
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    env = dict(os.environ, SETTLEMENT_API_KEY="serve-test-key")
    process = subprocess.Popen(
        serve_command(
            "--port", str(port), "--window-seconds", "0.5", "--database-url", database_url
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        health = wait_for_health(port, process)
        assert health["status"] == "ok"
        assert health["chain_id"] == 31337
        flushed = httpx.post(
            f"http://127.0.0.1:{port}/v1/windows/flush",
            headers={"X-API-Key": "serve-test-key"},
            timeout=10,
        )
        assert flushed.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "settlement service on" in output
    assert "serve-test-key" not in output

    # The database now belongs to that (stopped) embedded chain: a new one is refused.
    again = subprocess.run(
        serve_command("--port", str(port), "--database-url", database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1
    assert again.stderr.startswith("settlement: error: this database belongs to chain 31337")
    assert len(again.stderr.strip().splitlines()) == 1
