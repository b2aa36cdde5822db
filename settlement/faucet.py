"""Test money on a local dev chain, so a fleet driven over HTTP can fund its robots.

A grant tops an address up *to* a balance rather than adding to it, so a client that retries a
grant after a timeout never funds twice. Only Anvil's dev chain (id 31337) has a faucet: on any
other chain money is real and enters through the token's own minters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from settlement.chain.anvil import ANVIL_DEFAULT_CHAIN_ID
from settlement.chain.client import ChainClient
from settlement.chain.operator_calls import send_operator_calls
from settlement.chain.stablecoin import StablecoinContract

MAX_GRANTS_PER_REQUEST = 1_000


@dataclass(frozen=True)
class Grant:
    """Top ``address`` up to at least this many token base units and wei."""

    address: str
    token_base_units: int
    ether_wei: int = 0


@dataclass(frozen=True)
class FaucetReport:
    minted_base_units: int
    mint_transactions: int
    ether_topped_up: int
    gas_used: int


class DevFaucet:
    """Mints the service's stablecoin as its operator and sets ether balances through Anvil."""

    def __init__(
        self, client: ChainClient, operator: LocalAccount, token: StablecoinContract
    ) -> None:
        self._client = client
        self._operator = operator
        self._token = token

    @property
    def available(self) -> bool:
        return self._client.chain_id == ANVIL_DEFAULT_CHAIN_ID

    async def top_up(self, grants: Sequence[Grant]) -> FaucetReport:
        assert self.available, "a faucet only on a local dev chain"
        addresses = [to_checksum_address(grant.address) for grant in grants]
        held = await self._token.balances(addresses)
        mints = [
            (address, grant.token_base_units - held[address])
            for address, grant in zip(addresses, grants, strict=True)
            if grant.token_base_units > held[address]
        ]
        gas = await send_operator_calls(
            self._client,
            self._operator,
            [(self._token.address, self._token.encode("mint", a, n)) for a, n in mints],
        )
        return FaucetReport(
            minted_base_units=sum(amount for _, amount in mints),
            mint_transactions=len(mints),
            ether_topped_up=await self._top_up_ether(addresses, grants),
            gas_used=gas,
        )

    async def _top_up_ether(self, addresses: Sequence[str], grants: Sequence[Grant]) -> int:
        wanted = [
            (address, grant.ether_wei)
            for address, grant in zip(addresses, grants, strict=True)
            if grant.ether_wei > 0
        ]
        if not wanted:
            return 0
        answers = await self._client.batch_request(
            [("eth_getBalance", [address, "latest"]) for address, _ in wanted]
        )
        short = [
            (address, target)
            for (address, target), answer in zip(wanted, answers, strict=True)
            if int(answer["result"], 16) < target
        ]
        await self._client.batch_request(
            [("anvil_setBalance", [address, hex(target)]) for address, target in short]
        )
        return len(short)
