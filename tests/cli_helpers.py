"""Running the two command-line programs as a user does: a fresh interpreter, captured output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from settlement.chain.anvil import free_loopback_port

CLI_TIMEOUT_S = 120
STARTUP_LIMIT_S = 60.0


def run_program(
    program: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"from {program}.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=env,
        check=False,
    )


def run_robots(*args: str) -> subprocess.CompletedProcess[str]:
    return run_program("robots", *args)


def run_settlement(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_program("settlement", *args, env=env)


def serve_command(*arguments: str) -> list[str]:
    """``settlement serve`` with ``arguments``, run by this interpreter."""
    return [sys.executable, "-c", "from settlement.cli import main; main()", "serve", *arguments]


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


@contextmanager
def served(folder: Path, api_key: str, *arguments: str) -> Iterator[str]:
    """``settlement serve`` on its own embedded Anvil and SQLite file in ``folder``, until the
    block ends; its base URL."""
    port = free_loopback_port()
    process = subprocess.Popen(
        serve_command(
            "--port", str(port), "--database-url", f"sqlite:///{folder / 'served.db'}", *arguments
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, SETTLEMENT_API_KEY=api_key),
    )
    try:
        wait_for_health(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
