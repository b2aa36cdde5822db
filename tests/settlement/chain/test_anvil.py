"""The embedded Anvil: found, started, and stopped on every way out, with no orphan left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary, rpc_chain_id
from settlement.errors import ChainUnavailableError, ToolNotFoundError

PROCESS_GONE_TIMEOUT_S = 10.0


def process_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until_gone(pid: int) -> bool:
    deadline = time.monotonic() + PROCESS_GONE_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_prefers_the_native_binary_from_npm(contracts_dir: Path) -> None:
    binary = find_anvil_binary(contracts_dir, environ={})
    assert binary.is_file()
    assert "@foundry-rs/anvil-" in str(binary), "the node wrapper would orphan anvil on SIGKILL"


def test_anvil_bin_overrides_the_search(contracts_dir: Path, tmp_path: Path) -> None:
    chosen = find_anvil_binary(contracts_dir, environ={})
    assert find_anvil_binary(tmp_path, environ={"ANVIL_BIN": str(chosen)}) == chosen
    with pytest.raises(ToolNotFoundError, match="ANVIL_BIN points to"):
        find_anvil_binary(contracts_dir, environ={"ANVIL_BIN": str(tmp_path / "missing")})


def test_missing_binary_says_to_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolNotFoundError, match="run `make setup`"):
        find_anvil_binary(tmp_path, environ={})


def test_starts_answers_and_stops(contracts_dir: Path) -> None:
    anvil = EmbeddedAnvil(find_anvil_binary(contracts_dir), chain_id=4242)
    with anvil as rpc_url:
        assert anvil.running
        assert rpc_chain_id(rpc_url) == 4242
    assert not anvil.running
    assert rpc_chain_id(rpc_url) is None
    anvil.stop()  # stopping twice is harmless


def test_stops_when_the_body_raises(contracts_dir: Path) -> None:
    anvil = EmbeddedAnvil(find_anvil_binary(contracts_dir))
    seen_running: list[bool] = []

    def use_then_fail() -> None:
        with anvil:
            seen_running.append(anvil.running)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        use_then_fail()
    assert seen_running == [True]
    assert not anvil.running


def test_another_anvil_on_the_port_is_not_taken_for_this_one(contracts_dir: Path) -> None:
    """The port probe and Anvil's bind race with other processes; an Anvil that lost the race
    exits, and the one answering on the port must not be mistaken for it."""
    binary = find_anvil_binary(contracts_dir)
    with EmbeddedAnvil(binary) as holder_url:
        late = EmbeddedAnvil(binary, startup_timeout_s=10)
        late._spawn(int(holder_url.rsplit(":", 1)[1]))  # the holder's port, as a race would
        try:
            with pytest.raises(ChainUnavailableError, match="exited"):
                late._wait_until_ready()
        finally:
            late.stop()
        assert rpc_chain_id(holder_url) == 31337


def test_a_binary_that_exits_gives_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\necho 'cannot bind' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(ChainUnavailableError, match="exited with code 3: cannot bind"):
        EmbeddedAnvil(fake).start()


# The child takes Ctrl-C as an interactive program does. A process started in the background by
# a shell without job control inherits SIGINT ignored, and Python then installs no handler for
# it: the ctrl-c case failed that way whenever the suite ran as such a job (make test under
# `cmd &` in a script), the child sleeping on until the test's timeout.
CHILD_SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary
    signal.signal(signal.SIGINT, signal.default_int_handler)
    anvil = EmbeddedAnvil(find_anvil_binary(Path(sys.argv[1])))
    with anvil:
        print(anvil._process.pid, flush=True)
        time.sleep(60)
    """
)


def start_child_holding_anvil(contracts_dir: Path) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, str(contracts_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    anvil_pid = int(child.stdout.readline())
    assert process_alive(anvil_pid)
    return child, anvil_pid


@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"]
)
def test_no_orphan_when_the_owner_dies(contracts_dir: Path, how: signal.Signals) -> None:
    child, anvil_pid = start_child_holding_anvil(contracts_dir)
    try:
        os.kill(child.pid, how)
        child.wait(timeout=PROCESS_GONE_TIMEOUT_S)
        assert wait_until_gone(anvil_pid), f"anvil {anvil_pid} outlived its owner after {how.name}"
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
        if process_alive(anvil_pid):
            os.kill(anvil_pid, signal.SIGKILL)
