"""``settlement serve``: the API and the settlement windows in one process, until interrupted."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable, Sequence
from enum import StrEnum

import uvicorn
from rich.console import Console

from settlement.api.app import ApiMetrics, create_app
from settlement.api.rate_limit import RateLimit
from settlement.config import Settings
from settlement.domain.payments import SettlementMode
from settlement.leadership import Leadership, settler_lease_name
from settlement.redaction import public_database_url, public_rpc_url
from settlement.runtime import Runtime, running_service
from settlement.windows import STOP_GRACE_S, WindowPolicy, run_windows, stop_windows

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RELEASE_GRACE_S = 10.0
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - recognised here, never bound


def advertised_url(host: str, port: int) -> str:
    """Where the other processes sharing the store reach this one: its bind address, or its
    host name when it listens on every interface (a container's name on a compose network)."""
    reachable = socket.gethostname() if host in WILDCARD_HOSTS else host
    return f"http://{reachable}:{port}"


class Role(StrEnum):
    """What one serve process does."""

    # A lone `settlement serve`: answers everything on its port and campaigns to settle.
    ALL = "all"
    # A `--workers` child on the shared socket: accepts payments and forwards the leader's
    # routes; never settles, so settlement rounds never stall its answers.
    API = "api"
    # The `--workers` child that campaigns to settle: answers only on a port of its own, where
    # the API workers (and other replicas) forward the routes only the leader serves.
    SETTLER = "settler"


def role_sockets(role: Role, host: str, listen_fd: int | None) -> list[socket.socket] | None:
    """The sockets a ``--workers`` child answers on (None: a lone serve binds its own port)."""
    if role is Role.ALL:
        return None
    if role is Role.API:
        assert listen_fd is not None, "an API worker answers on the socket its parent shares"
        return [socket.socket(fileno=listen_fd)]
    return [socket.create_server((host, 0))]


async def serve_forever(
    settings: Settings,
    modes: Sequence[SettlementMode],
    host: str,
    port: int,
    console: Console,
    role: Role = Role.ALL,
    listen_fd: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; the embedded chain and the store close on the way out.

    ``role`` says whether this process answers on ``host:port`` and settles (a lone serve) or
    is one of ``settlement serve --workers N``'s children (``settlement.workers``).
    """
    async with running_service(settings, modes, reconcile=False) as runtime:
        sockets = role_sockets(role, host, listen_fd)
        own_port = port if sockets is None else sockets[0].getsockname()[1]
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        app = create_app(
            runtime.service,
            api_key,
            runtime.escrow,
            runtime.ledger,
            contracts=runtime.contracts,
            faucet=runtime.faucet,
            rate_limit=RateLimit(settings.rate_limit_per_s, settings.rate_limit_burst),
            leadership=Leadership(
                runtime.store.leases(),
                settler_lease_name(runtime.service.relayer.address),
                runtime.service.lease_owner,
                address=settings.advertise_url or advertised_url(host, own_port),
            ),
        )
        metrics: ApiMetrics = app.state.metrics
        policy = WindowPolicy(settings.window_max_payments, settings.window_max_wait_s)
        stop = asyncio.Event()
        leadership: Leadership = app.state.leadership
        campaign = asyncio.create_task(
            leadership.campaign(
                lambda lost: run_windows(
                    runtime.service, dict.fromkeys(modes, policy), lost, metrics.record_round
                ),
                stop,
            )
            if role is not Role.API
            else _until(stop)
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        )
        if role is Role.ALL:
            print_summary(console, runtime, modes, policy, f"http://{host}:{port}", api_key)
        elif role is Role.API:
            console.print(f"API worker {os.getpid()} answering")
        else:
            console.print(f"settler worker {os.getpid()} on its own port {own_port}")
        # uvicorn handles SIGINT and SIGTERM while it serves, then restores the handlers it found
        # and raises the signal again: those handlers are these, so the raised signal only asks
        # for the stop already under way, and the windows finish their round (or are cancelled
        # after STOP_GRACE_S).
        previous = {sig: signal.signal(sig, _stop_handler(server, stop)) for sig in STOP_SIGNALS}
        try:
            await server.serve(sockets=sockets)
        finally:
            # The campaign stops its leader's round within the windows' grace; the release of
            # the lease after it is one short write.
            await stop_windows(campaign, stop, STOP_GRACE_S + RELEASE_GRACE_S)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def _until(stop: asyncio.Event) -> None:
    """An API worker's stand-in for the campaign it does not run."""
    await stop.wait()


def print_summary(
    console: Console,
    runtime: Runtime,
    modes: Sequence[SettlementMode],
    policy: WindowPolicy,
    url: str,
    api_key: str | None,
    workers: int = 1,
) -> None:
    """What a started service serves: where, on which chain and contracts, in which modes."""
    chain = (
        "embedded Anvil" if runtime.session.embedded else public_rpc_url(runtime.session.rpc_url)
    )
    console.print(f"settlement service on {url} (OpenAPI at /docs)")
    if workers > 1:
        console.print(f"  {workers} API worker processes and one settler process")
    console.print(f"  chain {runtime.session.client.chain_id} at {chain}")
    console.print(f"  stablecoin {runtime.token.address}")
    if runtime.contracts.channels is not None:
        console.print(f"  payment channels {runtime.contracts.channels.address}")
    if runtime.contracts.net is not None:
        console.print(f"  net settlement {runtime.contracts.net.address}")
    console.print(f"  relayer {runtime.service.relayer.address}")
    console.print(f"  database {public_database_url(runtime.database_url)}")
    console.print(
        f"  modes {', '.join(mode.value for mode in modes)}; windows close at "
        f"{policy.max_payments} payments or {policy.max_wait_s:g} s"
    )
    if SettlementMode.AUTHORIZATION in modes:
        console.print(
            f"  x402 facilitator at {url}/x402 (exact, eip155:{runtime.session.client.chain_id})"
        )
    if runtime.faucet.available:
        console.print("  faucet for test accounts at POST /v1/faucet (operator, dev chain)")
    if api_key is None:
        console.print("  operator routes disabled: set SETTLEMENT_API_KEY to enable them")


def _stop_handler(server: uvicorn.Server, stop: asyncio.Event) -> Callable[[int, object], None]:
    def request_stop(_signum: int, _frame: object) -> None:
        server.should_exit = True
        stop.set()

    return request_stop
