"""`settlement serve` as a user runs it: starts, answers, settles by window, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from settlement.chain.anvil import free_loopback_port

pytestmark = pytest.mark.anvil

STARTUP_LIMIT_S = 60.0


def serve_command(*arguments: str) -> list[str]:
    """``settlement serve`` with ``arguments``, run by this interpreter."""
    return [sys.executable, "-c", "from settlement.cli import main; main()", "serve", *arguments]


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


def wait_for_health(port: int, process: subprocess.Popen[str]) -> dict[str, object]:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited during startup"
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            body: dict[str, object] = response.json()
            return body
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"serve did not answer on port {port} within {STARTUP_LIMIT_S} s")
