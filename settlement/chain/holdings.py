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
            asyncio.gather(*(self.token.balance_of(a) for a in addresses[Holding.WALLET])),
            asyncio.gather(*(self._escrowed(a) for a in addresses[Holding.CHANNEL_ESCROW])),
            self._deposits(addresses[Holding.NET_DEPOSIT]),
        )
        figures = {
            Holding.WALLET: dict(zip(addresses[Holding.WALLET], wallets, strict=True)),
            Holding.CHANNEL_ESCROW: dict(
                zip(addresses[Holding.CHANNEL_ESCROW], escrows, strict=True)
            ),
            Holding.NET_DEPOSIT: deposits,
        }
        return {(kind, address): figures[kind][address] for kind, address in holdings}

    async def _escrowed(self, payer: str) -> int:
        """What ``payer``'s channels known to the store still hold."""
        if self.channels is None:
            return 0
        channel_ids = await self.store.channel_ids_of_payer(payer)
        states = await asyncio.gather(
            *(self.channels.channel(bytes.fromhex(i[2:])) for i in channel_ids)
        )
        return sum(s.deposit_base_units - s.claimed_base_units for s in states if s.exists)

    async def _deposits(self, addresses: Sequence[str]) -> dict[str, int]:
        if self.net is None or not addresses:
            return dict.fromkeys(addresses, 0)
        return await self.net.balances(addresses)
