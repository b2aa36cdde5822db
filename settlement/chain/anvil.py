"""Start and always stop a local Anvil chain as a child process.

When no RPC URL is configured, the tools run their own Anvil on a free loopback port. The child is
stopped on every way out: normal exit and exceptions through the context manager, Ctrl-C through
``KeyboardInterrupt`` unwinding it, interpreter exit through ``atexit``, and even a SIGKILL of this
process through Linux's parent-death signal, so no orphan Anvil is left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from settlement.errors import ChainUnavailableError, ToolNotFoundError

ANVIL_DEFAULT_CHAIN_ID = 31337
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
PORT_ATTEMPTS = 3
POLL_INTERVAL_S = 0.05
_PR_SET_PDEATHSIG = 1
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


def find_anvil_binary(contracts_dir: Path, environ: dict[str, str] | None = None) -> Path:
    """Find the anvil binary: ``ANVIL_BIN``, then the npm install in ``contracts/``, then PATH.

    The native binary inside the platform package is preferred over the npm ``.bin`` wrapper: the
    wrapper is a node process, and a signal that kills it would leave its own anvil child running.
    """
    environ = dict(os.environ) if environ is None else environ
    configured = environ.get("ANVIL_BIN")
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ToolNotFoundError(f"ANVIL_BIN points to {path}, which is not a file")
        return path
    modules = contracts_dir / "node_modules"
    candidates = [
        *sorted(modules.glob("@foundry-rs/anvil-*/bin/anvil")),
        modules / ".bin" / "anvil",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ToolNotFoundError("anvil not found: run `make setup` (or set ANVIL_BIN)")


def free_loopback_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (Anvil's start retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when this process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedAnvil:
    """An Anvil child process; use as a context manager, which yields its RPC URL."""

    def __init__(
        self,
        binary: Path,
        *,
        chain_id: int = ANVIL_DEFAULT_CHAIN_ID,
        extra_args: Sequence[str] = (),
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.binary = binary
        self.chain_id = chain_id
        self.extra_args = tuple(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.rpc_url = ""

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start Anvil on a free port and wait until it answers JSON-RPC; return its URL."""
        assert self._process is None, "this EmbeddedAnvil was already started"
        last_error: ChainUnavailableError | None = None
        for _ in range(PORT_ATTEMPTS):
            port = free_loopback_port()
            self._spawn(port)
            try:
                self._wait_until_ready()
            except ChainUnavailableError as error:
                # Another process may have taken the port between the probe and the bind.
                last_error = error
                self.stop()
                continue
            atexit.register(self.stop)
            return self.rpc_url
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after a grace period). Safe to call twice."""
        process, self._process = self._process, None
        log, self._log = self._log, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if log is not None:
            log.close()

    def _spawn(self, port: int) -> None:
        command = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(self.chain_id),
            "--quiet",
            # Past states stay in memory up to Anvil's limit and are then dropped, not written to
            # ~/.foundry/anvil/tmp: a busy run writes gigabytes there and a killed Anvil leaves
            # them behind. Nothing here reads state at an old block.
            "--max-persisted-states",
            "0",
            *self.extra_args,
        ]
        # Anvil's output goes to a temporary file, read only to explain a failed start.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.rpc_url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ChainUnavailableError(
                    f"anvil exited with code {self._process.returncode}: {self._log_tail()}"
                )
            # Answering is not enough: another Anvil may hold the port (taken between the probe
            # and this one's bind, which then fails), and would answer with the same chain id.
            if rpc_chain_id(self.rpc_url) == self.chain_id and self._holds_its_port():
                return
            time.sleep(POLL_INTERVAL_S)
        raise ChainUnavailableError(
            f"anvil did not answer on {self.rpc_url} within {self.startup_timeout_s:.0f} s"
        )

    def _holds_its_port(self) -> bool:
        assert self._process is not None
        sockets = listening_sockets(int(self.rpc_url.rsplit(":", 1)[1]))
        if sockets is None:  # no /proc/net/tcp to ask (not Linux): trust the answer
            return True
        return holds_any(self._process.pid, sockets)

    def _log_tail(self, limit_bytes: int = 2000) -> str:
        assert self._log is not None
        self._log.seek(0)
        return self._log.read()[-limit_bytes:].decode(errors="replace").strip()


def listening_sockets(port: int) -> set[str] | None:
    """The sockets listening on TCP ``port``, named as a process's /proc fd links name them;
    None where the kernel's tables cannot be read."""
    found: set[str] = set()
    tables = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        tables += 1
        for line in lines:
            columns = line.split()
            local_port = int(columns[1].rsplit(":", 1)[1], 16)
            if local_port == port and columns[3] == TCP_LISTEN:
                found.add(f"socket:[{columns[9]}]")
    return found if tables else None


def holds_any(pid: int, sockets: set[str]) -> bool:
    """Whether process ``pid`` has one of ``sockets`` open."""
    try:
        return any(os.readlink(fd) in sockets for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # another user's process, or one that just exited
        return False


def rpc_chain_id(rpc_url: str, timeout_s: float = 1.0) -> int | None:
    """The chain id an endpoint reports, or None when it does not answer (yet)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is an http(s) RPC endpoint
        rpc_url, data=body, headers={"Content-Type": "application/json"}
    )
    with (
        contextlib.suppress(OSError, ValueError, KeyError),
        urllib.request.urlopen(request, timeout=timeout_s) as response,  # noqa: S310
    ):
        return int(json.load(response)["result"], 16)
    return None
