"""Helpers shared by the service and API tests: a service on the session Anvil, signed payments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI

from settlement.api.app import create_app
from settlement.book import ServiceBook
from settlement.chain.client import ChainClient
from settlement.chain.holdings import OnChainHoldings
from settlement.chain.net_settlement import NetSettlementContract
from settlement.chain.payment_channels import PaymentChannelsContract
from settlement.chain.relayer import Relayer
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.messages import BatchPayment, TransferAuthorization, random_nonce
from settlement.domain.payments import PaymentIntent, Purpose, SettlementMode
from settlement.escrow import EscrowDesk, Funding
from settlement.faucet import DevFaucet
from settlement.ledger import Ledger, MemoryLedger
from settlement.remote_replay import payment_body
from settlement.runtime import (
    SUPPORTED_MODES,
    Contracts,
    build_settlers,
    channels_contract,
    net_contract,
)
from settlement.service import DEFAULT_MAX_QUEUED, SettlementService
from settlement.settlers.authorization import AuthorizationSettler
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.batch import BatchSettler
from settlement.settlers.direct import DirectSettler, transfer_calldata
from settlement.settlers.ledger import ledger_domain
from settlement.store import SqlPaymentStore
from settlement.wallet import ChainTerms, PayerWallet, SignedFunding


def make_service(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    relayer_account: LocalAccount,
    relayer_class: type[Relayer] = Relayer,
    max_queued: int = DEFAULT_MAX_QUEUED,
) -> SettlementService:
    settlers = {
        SettlementMode.DIRECT: DirectSettler(coin.address, chain.chain_id),
        SettlementMode.AUTHORIZATION: AuthorizationSettler(coin.address, coin.domain),
        SettlementMode.BATCH: BatchSettler(coin.address, coin.domain),
    }
    relayer = relayer_class(chain, relayer_account, store)
    return SettlementService(store, chain, relayer, settlers, token=coin, max_queued=max_queued)


async def authorized_payment(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: str,
    key: str,
    amount: int,
    *,
    opened_s_ago: int = 10,
) -> PaymentSubmission:
    now = await coin.client.latest_block_timestamp()
    authorization = TransferAuthorization(
        payer.address, payee, amount, now - opened_s_ago, now + 3_600, random_nonce()
    )
    signed = authorization.sign(payer.key, coin.domain)
    return PaymentSubmission(
        intent=PaymentIntent(key, payer.address, payee, amount, Purpose.ENERGY),
        mode=SettlementMode.AUTHORIZATION,
        instrument={
            "valid_after": authorization.valid_after,
            "valid_before": authorization.valid_before,
            "nonce": "0x" + authorization.nonce.hex(),
            "signature": "0x" + signed.signature.hex(),
        },
    )


async def batch_payment(
    coin: StablecoinContract, payer: LocalAccount, payee: str, key: str, amount: int, nonce: int
) -> PaymentSubmission:
    now = await coin.client.latest_block_timestamp()
    message = BatchPayment(payer.address, payee, amount, nonce, now + 3_600)
    signed = message.sign(payer.key, coin.domain)
    return PaymentSubmission(
        intent=PaymentIntent(key, payer.address, payee, amount, Purpose.PARTS),
        mode=SettlementMode.BATCH,
        instrument={
            "nonce": nonce,
            "valid_before": message.valid_before,
            "signature": "0x" + signed.signature.hex(),
        },
    )


def as_json(submission: PaymentSubmission) -> dict[str, object]:
    """The API body for a submission, as fleets send it."""
    return payment_body(submission)


def direct_payment(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: str,
    key: str,
    amount: int,
    nonce: int,
    *,
    chain_id: int | None = None,
    to: str | None = None,
    calldata_payee: str | None = None,
) -> PaymentSubmission:
    """The payer's own signed transfer; the keyword arguments forge a mismatch for tests."""
    transaction = {
        "type": 2,
        "chainId": chain_id if chain_id is not None else coin.client.chain_id,
        "nonce": nonce,
        "to": to or coin.address,
        "value": 0,
        "gas": 100_000,
        "maxFeePerGas": 20 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "data": "0x" + transfer_calldata(calldata_payee or payee, amount).hex(),
    }
    raw = payer.sign_transaction(transaction).raw_transaction
    return PaymentSubmission(
        intent=PaymentIntent(key, payer.address, payee, amount, Purpose.GOODS),
        mode=SettlementMode.DIRECT,
        instrument={"raw_transaction": "0x" + bytes(raw).hex()},
    )


@dataclass(frozen=True)
class EscrowedService:
    """A service with every mode, on freshly deployed channel and net contracts."""

    service: SettlementService
    escrow: EscrowDesk
    channels: PaymentChannelsContract
    net: NetSettlementContract
    ledger: Ledger


async def make_escrowed_service(
    store: SqlPaymentStore,
    chain: ChainClient,
    coin: StablecoinContract,
    admin: LocalAccount,
    contracts_dir: Path,
    relayer_class: type[Relayer] = Relayer,
    ledger: Ledger | None = None,
) -> EscrowedService:
    channels = await channels_contract(chain, contracts_dir, admin, coin)
    net = await net_contract(chain, contracts_dir, admin, coin)
    return service_on(Contracts(coin, channels, net), store, admin, relayer_class, ledger)


def service_on(
    contracts: Contracts,
    store: SqlPaymentStore,
    admin: LocalAccount,
    relayer_class: type[Relayer] = Relayer,
    ledger: Ledger | None = None,
) -> EscrowedService:
    """A service (a fresh process, as it were) over already deployed contracts and ledger."""
    assert contracts.channels is not None
    assert contracts.net is not None
    chain, coin = contracts.token.client, contracts.token
    ledger = ledger or MemoryLedger()
    book = ServiceBook(ledger, OnChainHoldings(coin, store, contracts.channels, contracts.net))
    service = SettlementService(
        store,
        chain,
        relayer_class(chain, admin, store),
        build_settlers(SUPPORTED_MODES, contracts, store, ledger),
        token=coin,
        book=book,
    )
    # Funding goes through a relayer of its own, so a test's crashing relayer strikes settlements
    # only; both send from the same key, with nonces from the same client.
    escrow = EscrowDesk(
        coin,
        store,
        Relayer(chain, admin, store),
        service.lease_owner,
        contracts.channels,
        contracts.net,
        book,
    )
    return EscrowedService(service, escrow, contracts.channels, contracts.net, ledger)


async def terms_for(coin: StablecoinContract, escrowed: EscrowedService) -> ChainTerms:
    fees = await coin.client.fees()
    return ChainTerms(
        chain_id=coin.client.chain_id,
        token=coin.address,
        token_domain=coin.domain,
        chain_time=await coin.client.latest_block_timestamp(),
        max_fee_per_gas_wei=fees.max_fee_per_gas_wei,
        max_priority_fee_per_gas_wei=fees.max_priority_fee_per_gas_wei,
        channels_domain=escrowed.channels.voucher_domain,
        net_domain=escrowed.net.payment_domain,
        ledger_domain=ledger_domain(coin.client.chain_id, coin.address),
    )


def funding(signed: SignedFunding) -> Funding:
    return Funding(
        signed.payer,
        signed.amount_base_units,
        signed.valid_after,
        signed.valid_before,
        signed.signature,
    )


async def funded(coin: StablecoinContract, admin: LocalAccount, amount: int) -> LocalAccount:
    """A new account holding ``amount`` of the stablecoin and no ether."""
    account: LocalAccount = Account.create()
    await coin.mint(admin, account.address, amount)
    return account


async def funded_wallet(
    coin: StablecoinContract, admin: LocalAccount, amount: int = 1_000_000
) -> PayerWallet:
    return PayerWallet((await funded(coin, admin, amount)).key)


def fleet_app(
    escrowed: EscrowedService,
    coin: StablecoinContract,
    admin: LocalAccount,
    operator_api_key: str,
) -> FastAPI:
    """The app as ``settlement serve`` builds it: every route, the escrow contracts in the
    signing terms, and a faucet minting as ``admin``."""
    return create_app(
        escrowed.service,
        operator_api_key,
        escrowed.escrow,
        escrowed.ledger,
        contracts=Contracts(coin, escrowed.channels, escrowed.net),
        faucet=DevFaucet(coin.client, admin, coin),
    )
