"""Where a payment's money sits on chain: the holdings the service's book mirrors.

An address holds tokens in its wallet, in payment channels it opened (deposits less claims), and
in its net-settlement deposit. Each settlement mode takes a payment from one of the payer's
holdings and puts it in one of the payee's.
"""

from __future__ import annotations

from enum import StrEnum

from settlement.domain.payments import SettlementMode


class Holding(StrEnum):
    WALLET = "wallet"
    CHANNEL_ESCROW = "channel-escrow"
    NET_DEPOSIT = "net-deposit"


# Where each mode takes a payment's money from, and where it puts it.
SOURCE = {
    SettlementMode.DIRECT: Holding.WALLET,
    SettlementMode.AUTHORIZATION: Holding.WALLET,
    SettlementMode.BATCH: Holding.WALLET,
    SettlementMode.CHANNEL: Holding.CHANNEL_ESCROW,
    SettlementMode.NET: Holding.NET_DEPOSIT,
}
DESTINATION = {
    SettlementMode.DIRECT: Holding.WALLET,
    SettlementMode.AUTHORIZATION: Holding.WALLET,
    SettlementMode.BATCH: Holding.WALLET,
    SettlementMode.CHANNEL: Holding.WALLET,
    SettlementMode.NET: Holding.NET_DEPOSIT,
}

HoldingKey = tuple[Holding, str]


def holdings_of_mode(mode: SettlementMode, payer: str, payee: str) -> list[HoldingKey]:
    return [(SOURCE[mode], payer), (DESTINATION[mode], payee)]
