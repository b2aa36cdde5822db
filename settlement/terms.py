"""What a payer must know of a service's chain to sign for it, read from the chain."""

from __future__ import annotations

from settlement.chain.client import ChainClient
from settlement.chain.net_settlement import NetSettlementContract
from settlement.chain.payment_channels import PaymentChannelsContract
from settlement.chain.stablecoin import StablecoinContract
from settlement.settlers.ledger import ledger_domain
from settlement.wallet import ChainTerms

# Fleet payers sign a whole run's direct transactions at once, so their fee cap must outlast
# base fee rises while those transactions wait their turn.
DIRECT_FEE_HEADROOM = 4


async def signing_terms(
    client: ChainClient,
    token: StablecoinContract,
    channels: PaymentChannelsContract | None,
    net: NetSettlementContract | None,
) -> ChainTerms:
    fees = await client.fees()
    return ChainTerms(
        chain_id=client.chain_id,
        token=token.address,
        token_domain=token.domain,
        chain_time=await client.latest_block_timestamp(),
        max_fee_per_gas_wei=DIRECT_FEE_HEADROOM * fees.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=fees.max_priority_fee_per_gas_wei,
        channels_domain=channels.voucher_domain if channels else None,
        net_domain=net.payment_domain if net else None,
        ledger_domain=ledger_domain(client.chain_id, token.address),
    )
