"""Running the two command-line programs as a user does: a fresh interpreter, captured output."""

from __future__ import annotations

import subprocess
import sys

CLI_TIMEOUT_S = 120


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
