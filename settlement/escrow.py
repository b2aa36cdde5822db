"""Funding the escrowed modes: opening and topping up channels, net-settlement deposits.

Every funding move is the payer's own EIP-3009 ``ReceiveWithAuthorization`` to the escrow contract,
which the service relays (and pays the gas for). The signature is checked here first, so a bad one
never costs gas; the contract checks it again and binds the nonce to the channel or top-up.

Funding transactions go through the service's relayer like settlement transactions: recorded in
the store before they are sent (a submission with no payments, named by its
``escrow_operation``), watched until they have their confirmations, and, if a reorganisation
removes one later, sent again by the service's reorganisation watch: the same signed bytes, so at
most once, and the authorization's nonce would refuse a second funding anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_abi.abi import decode
from eth_typing import HexStr

from settlement.book import ServiceBook
from settlement.chain.contract import ContractAdapter
from settlement.chain.net_settlement import NetSettlementContract
from settlement.chain.payment_channels import (
    PaymentChannelsContract,
    channel_id_of,
    top_up_nonce_of,
)
from settlement.chain.relayer import (
    GAS_MARGIN_PERCENT,
    MinedTransaction,
    PlannedTransaction,
    Relayer,
)
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.holdings import Holding
from settlement.domain.messages import AuthorizationKind, SignedMessage, TransferAuthorization
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.errors import PaymentRejectedError, TransactionRevertedError
from settlement.settlers.channel import booked_from_chain, channel_key
from settlement.settlers.net import window_tree
from settlement.store import Completion, SqlPaymentStore

# The escrow operations, as the store names their submissions.
CHANNEL_OPEN = "channel-open"
CHANNEL_TOP_UP = "channel-top-up"
NET_DEPOSIT = "net-deposit"


@dataclass(frozen=True)
class Funding:
    """A payer's signed authorization to move ``amount`` into an escrow contract."""

    payer: str
    amount_base_units: int
    valid_after: int
    valid_before: int
    signature: bytes


@dataclass(frozen=True)
class ChannelView:
    """A channel on chain, beside what the service has accepted on it."""

    channel_id: str
    payer: str
    payee: str
    deposit_base_units: int
    claimed_base_units: int
    accepted_base_units: int
    withdrawable_at: int
    # The gas of the funding transaction the request that produced this view relayed.
    funding_gas_used: int | None = None


@dataclass(frozen=True)
class InclusionProof:
    """Everything needed to check on chain that a net payment was in a settled window."""

    payment_id: str
    window_id: int
    leaf_index: int
    root: str
    proof: list[str]
    tx_hash: str
    verified_on_chain: bool


@dataclass(frozen=True)
class NetAccountView:
    address: str
    deposit_base_units: int
    committed_base_units: int
    funding_gas_used: int | None = None


class EscrowDesk:
    """Relays funding into the channel and net contracts of one running service."""

    def __init__(
        self,
        token: StablecoinContract,
        store: SqlPaymentStore,
        relayer: Relayer,
        owner: str,
        channels: PaymentChannelsContract | None = None,
        net: NetSettlementContract | None = None,
        book: ServiceBook | None = None,
    ) -> None:
        self.token = token
        self.store = store
        self.relayer = relayer
        # Whose submissions the funding transactions are: the service's lease owner.
        self.owner = owner
        self._channels = channels
        self._net = net
        self.book = book

    async def open_channel(self, payee: str, salt: bytes, funding: Funding) -> ChannelView:
        channels = self._channels_contract()
        channel_id = channel_id_of(funding.payer, payee, salt)
        signed = self._verified(funding, channels.address, channel_id)
        await self._before_funding(Holding.CHANNEL_ESCROW, funding.payer)
        mined = await self._relay(
            SettlementMode.CHANNEL, CHANNEL_OPEN, channels, channels.open_call(payee, salt, signed)
        )
        await self._after_funding(Holding.CHANNEL_ESCROW, funding, channel_id)
        return replace(await self.channel(channel_id), funding_gas_used=mined.gas_used)

    async def top_up_channel(
        self, channel_id: bytes, top_up_salt: bytes, funding: Funding
    ) -> ChannelView:
        channels = self._channels_contract()
        nonce = top_up_nonce_of(channel_id, top_up_salt)
        signed = self._verified(funding, channels.address, nonce)
        await self._before_funding(Holding.CHANNEL_ESCROW, funding.payer)
        mined = await self._relay(
            SettlementMode.CHANNEL,
            CHANNEL_TOP_UP,
            channels,
            channels.top_up_call(channel_id, top_up_salt, signed),
        )
        await self._after_funding(Holding.CHANNEL_ESCROW, funding, nonce)
        return replace(await self.channel(channel_id), funding_gas_used=mined.gas_used)

    async def channel(self, channel_id: bytes) -> ChannelView:
        """The channel as the chain has it now, booked so vouchers against it can be accepted."""
        state = await self._channels_contract().channel(channel_id)
        if not state.exists:
            raise LookupError(f"no open channel {channel_key(channel_id)}")
        booked = await self.store.book_channel(booked_from_chain(state))
        return ChannelView(
            channel_id=booked.channel_id,
            payer=booked.payer,
            payee=booked.payee,
            deposit_base_units=state.deposit_base_units,
            claimed_base_units=state.claimed_base_units,
            accepted_base_units=booked.accepted_cumulative_base_units,
            withdrawable_at=state.withdrawable_at,
        )

    async def deposit(self, nonce: bytes, funding: Funding) -> NetAccountView:
        net = self._net_contract()
        signed = self._verified(funding, net.address, nonce)
        await self._before_funding(Holding.NET_DEPOSIT, funding.payer)
        mined = await self._relay(SettlementMode.NET, NET_DEPOSIT, net, net.deposit_call(signed))
        await self._after_funding(Holding.NET_DEPOSIT, funding, nonce)
        return replace(await self.net_account(funding.payer), funding_gas_used=mined.gas_used)

    async def _relay(
        self, mode: SettlementMode, operation: str, contract: ContractAdapter, data: HexStr
    ) -> MinedTransaction:
        """Send a funding transaction as a tracked submission and record it once confirmed.

        The gas is estimated here, with the contract's errors: a funding the contract would
        refuse raises its decoded reason and is neither recorded nor sent. A transaction mined
        but reverted (the state changed after the estimate) raises ``TransactionRevertedError``.
        """
        estimate = await contract.client.estimate_gas(
            self.relayer.address, contract.address, data, contract.decoder
        )
        planned = PlannedTransaction(
            to=contract.address,
            data=data,
            gas=estimate + estimate * GAS_MARGIN_PERCENT // 100,
            payment_ids=[],
            escrow_operation=operation,
        )
        mined = await self.relayer.submit(mode, planned, self.owner, self._complete)
        if not mined.succeeded:
            raise TransactionRevertedError(mined.tx_hash, mined.gas_used)
        return mined

    async def _complete(self, mined: list[MinedTransaction]) -> None:
        await self.store.complete_submissions([escrow_completion(each) for each in mined])

    async def _before_funding(self, escrow: Holding, payer: str) -> None:
        """Open the book's accounts first, so their opening figures exclude this funding."""
        if self.book is not None:
            await self.book.open([(Holding.WALLET, payer), (escrow, payer)])

    async def _after_funding(self, escrow: Holding, funding: Funding, nonce: bytes) -> None:
        if self.book is not None:
            await self.book.record_funding(escrow, funding.payer, funding.amount_base_units, nonce)

    async def net_account(self, address: str) -> NetAccountView:
        net = self._net_contract()
        committed = await self.store.pending_outgoing(address, SettlementMode.NET)
        return NetAccountView(address, await net.balance_of(address), committed)

    async def inclusion_proof(self, payment_id: str) -> InclusionProof:
        """The Merkle proof of a confirmed net payment, checked against the contract."""
        net = self._net_contract()
        record = await self.store.get(payment_id)
        if record is None or record.mode is not SettlementMode.NET:
            raise LookupError(f"no net payment {payment_id}")
        submission = (
            await self.store.submission(record.submission_id)
            if record.state is PaymentState.CONFIRMED and record.submission_id is not None
            else None
        )
        if submission is None or submission.mined_tx_hash is None:
            raise LookupError(f"payment {payment_id} is {record.state.value}, in no settled window")
        window = list((await self.store.records(submission.payment_ids)).values())
        leaf_order = sorted(each.payment_id for each in window)
        index = leaf_order.index(payment_id)
        tree = window_tree(window)
        proof = tree.proof(index)
        transaction = await net.client.w3.eth.get_transaction(HexStr(submission.mined_tx_hash))
        (window_id,) = decode(["uint64"], bytes(transaction["input"])[4:36])
        verified = await net.verify_payment(
            window_id,
            bytes.fromhex(payment_id[2:]),
            record.payer,
            record.payee,
            record.amount_base_units,
            proof,
        )
        return InclusionProof(
            payment_id=payment_id,
            window_id=window_id,
            leaf_index=index,
            root="0x" + tree.root.hex(),
            proof=["0x" + node.hex() for node in proof],
            tx_hash=submission.mined_tx_hash,
            verified_on_chain=verified,
        )

    def _verified(
        self, funding: Funding, escrow: str, nonce: bytes
    ) -> SignedMessage[TransferAuthorization]:
        try:
            message = TransferAuthorization(
                funding.payer,
                escrow,
                funding.amount_base_units,
                funding.valid_after,
                funding.valid_before,
                nonce,
                AuthorizationKind.RECEIVE,
            )
        except ValueError as error:
            raise PaymentRejectedError(str(error)) from None
        signed = SignedMessage(message, funding.signature)
        signed.verify(self.token.domain)
        return signed

    def _channels_contract(self) -> PaymentChannelsContract:
        if self._channels is None:
            raise PaymentRejectedError("channel mode is not enabled here")
        return self._channels

    def _net_contract(self) -> NetSettlementContract:
        if self._net is None:
            raise PaymentRejectedError("net mode is not enabled here")
        return self._net


def escrow_completion(mined: MinedTransaction) -> Completion:
    """The completion of an escrow operation's submission: mined, with no payment to settle."""
    return Completion(
        submission_id=mined.submission_id,
        mined_tx_hash=mined.tx_hash,
        block_number=mined.block_number,
        gas_used=mined.gas_used,
        effective_gas_price_wei=mined.effective_gas_price_wei,
        outcomes=[],
        mined_at=mined.mined_at,
        block_hash=mined.block_hash,
    )
