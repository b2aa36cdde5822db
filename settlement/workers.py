"""``settlement serve --workers N``: N API processes on one socket and one store.

One Python process answers on one core. The parent here starts what the workers share (the
embedded Anvil if no chain is given, the contracts, the store and its migrations), opens the
listening socket, and starts ``settlement serve`` children attached to the same chain, contracts
and database: N API workers that inherit the socket (the kernel hands each new connection to
whichever accepts it first) and accept payments, and one settler that campaigns for the settling
lease (``settlement.leadership``) and, holding it, runs the windows. Settling in a process of its
own keeps its rounds (a 1,000-payment batch is tens of milliseconds of CPU) from stalling the
answers. The settler answers on a port of its own, where the API workers forward the routes only
the leader serves.

The parent supervises: a child that dies is started again (at most ``MAX_RESTARTS_PER_MINUTE``
times a minute, then the parent stops, saying why), and a stop signal is passed on to every
child, which finishes its round and exits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from rich.console import Console

from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.errors import ConfigurationError
from settlement.runtime import Runtime, running_service
from settlement.server import STOP_SIGNALS, Role, print_summary
from settlement.windows import STOP_GRACE_S, WindowPolicy

MAX_WORKERS = 64
MAX_RESTARTS_PER_MINUTE = 5
SUPERVISE_INTERVAL_S = 0.5
# A child finishes its settlement round (up to the windows' grace) and releases its lease.
CHILD_STOP_GRACE_S = STOP_GRACE_S + 15.0
LISTEN_BACKLOG = 2_048


def worker_environment(settings: Settings, runtime: Runtime) -> dict[str, str]:
    """The environment that attaches a child to the parent's chain, contracts and store.

    The operator key travels in the environment, never on a command line (``ps`` shows those);
    a keystore the parent decrypted is not read again by each child.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SETTLEMENT_KEYSTORE")}
    contracts = runtime.contracts
    environment |= {
        "SETTLEMENT_RPC_URL": runtime.session.rpc_url,
        "SETTLEMENT_PRIVATE_KEY": "0x" + bytes(runtime.session.operator.key).hex(),
        "SETTLEMENT_TOKEN_ADDRESS": contracts.token.address,
        "SETTLEMENT_DATABASE_URL": runtime.database_url,
    }
    if settings.ledger_url:
        environment["SETTLEMENT_LEDGER_URL"] = settings.ledger_url
    if contracts.channels is not None:
        environment["SETTLEMENT_CHANNELS_ADDRESS"] = contracts.channels.address
    if contracts.net is not None:
        environment["SETTLEMENT_NET_ADDRESS"] = contracts.net.address
    return environment


def worker_command(
    role: Role,
    listener: socket.socket,
    host: str,
    modes: Sequence[SettlementMode],
    policy: WindowPolicy,
) -> list[str]:
    port = listener.getsockname()[1]
    return [
        *(sys.executable, "-c", "from settlement.cli import main; main()", "serve"),
        *("--role", role.value, "--host", host, "--port", str(port)),
        *(("--listen-fd", str(listener.fileno())) if role is Role.API else ()),
        *(argument for mode in modes for argument in ("--mode", mode.value)),
        *("--window-size", str(policy.max_payments)),
        *("--window-seconds", repr(policy.max_wait_s)),
    ]


class Workers:
    """The children, started, restarted and stopped: API workers and one settler."""

    def __init__(
        self, commands: dict[Role, list[str]], environment: dict[str, str], listener: socket.socket
    ):
        self.commands = commands
        self.environment = environment
        self.listener = listener
        self.children: list[tuple[Role, subprocess.Popen[bytes]]] = []
        self._restarts: list[float] = []

    def start(self, api_workers: int) -> None:
        roles = [Role.SETTLER] + [Role.API] * api_workers
        self.children = [(role, self._spawn(role)) for role in roles]

    def restart_the_dead(self, console: Console) -> None:
        for index, (role, child) in enumerate(self.children):
            code = child.poll()
            if code is None:
                continue
            now = time.monotonic()
            self._restarts = [at for at in self._restarts if now - at < 60] + [now]
            if len(self._restarts) > MAX_RESTARTS_PER_MINUTE:
                raise ConfigurationError(
                    f"workers keep dying (the last with exit code {code}): more than "
                    f"{MAX_RESTARTS_PER_MINUTE} restarts in a minute; see their output above"
                )
            console.print(f"{role.value} worker {child.pid} exited with code {code}; restarting")
            self.children[index] = (role, self._spawn(role))

    def stop(self) -> None:
        for _, child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CHILD_STOP_GRACE_S
        for _, child in self.children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _spawn(self, role: Role) -> subprocess.Popen[bytes]:
        inherited = (self.listener.fileno(),) if role is Role.API else ()
        return subprocess.Popen(  # noqa: S603 - this interpreter and fixed arguments, no shell
            self.commands[role], env=self.environment, pass_fds=inherited
        )


async def serve_workers(
    settings: Settings,
    modes: Sequence[SettlementMode],
    host: str,
    port: int,
    workers: int,
    console: Console,
) -> None:
    """Run ``workers`` serve processes on ``host:port`` until SIGINT or SIGTERM."""
    assert 2 <= workers <= MAX_WORKERS, workers
    policy = WindowPolicy(settings.window_max_payments, settings.window_max_wait_s)
    async with running_service(settings, modes, reconcile=False) as runtime:
        try:
            listener = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        except OSError as error:
            raise ConfigurationError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        with listener:
            listener.set_inheritable(True)
            children = Workers(
                {role: worker_command(role, listener, host, modes, policy) for role in Role},
                worker_environment(settings, runtime),
                listener,
            )
            api_key = settings.api_key.get_secret_value() if settings.api_key else None
            print_summary(
                console, runtime, modes, policy, f"http://{host}:{port}", api_key, workers
            )
            children.start(workers)
            try:
                await _until_stopped(children, console)
            finally:
                await asyncio.to_thread(children.stop)


async def _until_stopped(children: Workers, console: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            children.restart_the_dead(console)
            await asyncio.sleep(SUPERVISE_INTERVAL_S)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
