"""What the chain says each holding holds: the figures the service's book is checked against."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from settlement.chain.net_settlement import NetSettlementContract
from settlement.chain.payment_channels import PaymentChannelsContract
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.holdings import Holding, HoldingKey
from settlement.store import SqlPaymentStore


class OnChainHoldings:
    """Token balances, channel escrows (deposits less claims) and net deposits, read now."""

    def __init__(
        self,
        token: StablecoinContract,
        store: SqlPaymentStore,
        channels: PaymentChannelsContract | None,
        net: NetSettlementContract | None,
    ) -> None:
        self.token = token
        self.store = store
        self.channels = channels
        self.net = net

    async def amounts(self, holdings: Sequence[HoldingKey]) -> dict[HoldingKey, int]:
        addresses = {kind: [a for h, a in holdings if h is kind] for kind in Holding}
        wallets, escrows, deposits = await asyncio.gather(
            self.token.balances(addresses[Holding.WALLET]),
            self._escrowed(addresses[Holding.CHANNEL_ESCROW]),
            self._deposits(addresses[Holding.NET_DEPOSIT]),
        )
        figures = {
            Holding.WALLET: wallets,
            Holding.CHANNEL_ESCROW: escrows,
            Holding.NET_DEPOSIT: deposits,
        }
        return {(kind, address): figures[kind][address] for kind, address in holdings}

    async def _escrowed(self, payers: Sequence[str]) -> dict[str, int]:
        """What each payer's channels known to the store still hold: deposits less claims."""
        escrowed = dict.fromkeys(payers, 0)
        if self.channels is None or not payers:
            return escrowed
        channel_ids = [
            bytes.fromhex(channel_id[2:])
            for channel_id in await self.store.channel_ids_of_payers(payers)
        ]
        for state in await self.channels.channels(channel_ids):
            if state.payer is not None:
                escrowed[state.payer] += state.deposit_base_units - state.claimed_base_units
        return escrowed

    async def _deposits(self, addresses: Sequence[str]) -> dict[str, int]:
        if self.net is None or not addresses:
            return dict.fromkeys(addresses, 0)
        return await self.net.balances(addresses)
