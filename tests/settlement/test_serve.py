"""`settlement serve` as a user runs it: starts, answers, settles by window, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from settlement.chain.anvil import free_loopback_port
from settlement.leadership import LEASE_TTL_S
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
    assert f"x402 facilitator at http://127.0.0.1:{port}/x402 (exact, eip155:31337)" in output
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


def test_serve_with_workers_answers_from_each_and_settles_from_one(tmp_path: Path) -> None:
    port = free_loopback_port()
    key = "workers-test-key"
    process = subprocess.Popen(
        serve_command(
            *("--port", str(port), "--workers", "2", "--mode", "batch"),
            *("--window-seconds", "0.3", "--database-url", f"sqlite:///{tmp_path / 'w.db'}"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, SETTLEMENT_API_KEY=key),
    )
    try:
        wait_for_health(port, process)
        children = _children(process.pid)
        roles = [_role(child) for child in children]
        assert sorted(roles) == ["anvil", "api", "api", "settler"]
        settler_port = _own_port(children[roles.index("settler")])
        settler_health = wait_for_health(settler_port, process)
        deadline = time.monotonic() + LEASE_TTL_S
        while not settler_health["settling"] and time.monotonic() < deadline:
            time.sleep(0.2)
            settler_health = httpx.get(f"http://127.0.0.1:{settler_port}/health").json()
        assert settler_health["settling"] is True, "the settler holds the settling lease"
        for _ in range(10):
            # A new connection each time, so the kernel may hand it to either API worker:
            # neither settles, and each forwards the leader's route to the settler.
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            assert health["settling"] is False
            flushed = httpx.post(
                f"http://127.0.0.1:{port}/v1/windows/flush",
                headers={"X-API-Key": key},
                timeout=30,
            )
            assert flushed.status_code == 200, flushed.text
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "2 API worker processes and one settler process" in output
    assert output.count(" answering\n") == 2, "both API workers started"
    assert not [c for c in children if Path(f"/proc/{c}").exists()], "every child stopped"


def _role(pid: int) -> str:
    arguments = _command(pid).split()
    if arguments[0].endswith("anvil"):
        return "anvil"
    return arguments[arguments.index("--role") + 1]


def _own_port(pid: int, within_s: float = 60) -> int:
    """The port a settler child listens on, from /proc (it binds an ephemeral one, once it has
    attached to the chain and the store)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        sockets = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            columns = line.split()
            if columns[3] == "0A" and f"socket:[{columns[9]}]" in sockets:  # 0A: LISTEN
                return int(columns[1].rsplit(":", 1)[1], 16)
        time.sleep(0.2)
    raise AssertionError(f"process {pid} listens on no port within {within_s} s")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
