"""The payer's side: a robot's key signing the instrument each settlement mode needs.

A wallet keeps the counters a payer owns: its next transaction nonce (direct mode), its next
bitmap nonce (batch mode, consecutive so 256 payments share one storage slot on chain), and the
running total of each channel it has opened (channel mode).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.types import AccessList
from eth_typing import HexStr

from settlement.chain.payment_channels import channel_id_of
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import (
    AuthorizationKind,
    BatchPayment,
    NetPayment,
    SignedMessage,
    TransferAuthorization,
    Voucher,
    random_nonce,
)
from settlement.domain.payments import PaymentIntent, Purpose, SettlementMode
from settlement.settlers.base import PaymentSubmission
from settlement.settlers.direct import MAX_DIRECT_GAS, transfer_calldata

# Authorizations and batch payments are valid for an hour: long enough to survive a settlement
# window and a restart, short enough that a lost one cannot be spent much later.
VALIDITY_S = 3_600


@dataclass(frozen=True)
class ChainTerms:
    """What a payer must know of the chain to sign: ids, the token, fees, the time."""

    chain_id: int
    token: str
    token_domain: Eip712Domain
    chain_time: int
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    channels_domain: Eip712Domain | None = None
    net_domain: Eip712Domain | None = None
    ledger_domain: Eip712Domain | None = None


@dataclass
class OpenChannel:
    """A channel the wallet has funded, and the cumulative amount it has promised on it."""

    channel_id: bytes
    deposit_base_units: int
    promised_base_units: int = 0


@dataclass(frozen=True)
class SignedFunding:
    """A signed ReceiveWithAuthorization into an escrow, in the API's ``FundingIn`` shape."""

    payer: str
    amount_base_units: int
    valid_after: int
    valid_before: int
    nonce: bytes
    signature: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "payer": self.payer,
            "amount_base_units": self.amount_base_units,
            "valid_after": self.valid_after,
            "valid_before": self.valid_before,
            "signature": "0x" + self.signature.hex(),
        }


@dataclass
class PayerWallet:
    private_key: bytes
    transaction_nonce: int = 0
    batch_nonce: int = 0
    channels: dict[str, OpenChannel] = field(default_factory=dict)
    account: LocalAccount = field(init=False)

    def __post_init__(self) -> None:
        self.account = Account.from_key(self.private_key)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def submission(
        self,
        mode: SettlementMode,
        idempotency_key: str,
        payee: str,
        amount_base_units: int,
        purpose: Purpose,
        terms: ChainTerms,
    ) -> PaymentSubmission:
        intent = PaymentIntent(idempotency_key, self.address, payee, amount_base_units, purpose)
        return PaymentSubmission(intent, mode, self.instrument(mode, intent, terms))

    def instrument(
        self, mode: SettlementMode, intent: PaymentIntent, terms: ChainTerms
    ) -> dict[str, Any]:
        payee, amount_base_units = intent.payee, intent.amount_base_units
        if mode is SettlementMode.DIRECT:
            return self._direct(payee, amount_base_units, terms)
        if mode is SettlementMode.AUTHORIZATION:
            return self._authorization(payee, amount_base_units, terms)
        if mode is SettlementMode.BATCH:
            return self._batch(payee, amount_base_units, terms)
        if mode is SettlementMode.CHANNEL:
            return self._voucher(payee, amount_base_units, terms)
        if mode is SettlementMode.NET:
            return self._off_chain_payment(intent, _required(terms.net_domain, "net"), terms)
        return self._off_chain_payment(intent, _required(terms.ledger_domain, "ledger"), terms)

    def channel_funding(
        self, payee: str, deposit_base_units: int, terms: ChainTerms
    ) -> tuple[bytes, SignedFunding]:
        """Sign the deposit that opens a channel to ``payee``; (salt, funding) for the API."""
        domain = _required(terms.channels_domain, "channel")
        salt = secrets.token_bytes(32)
        channel_id = channel_id_of(self.address, payee, salt)
        funding = self._funding(domain.verifying_contract, deposit_base_units, channel_id, terms)
        self.channels[payee] = OpenChannel(channel_id, deposit_base_units)
        return salt, funding

    def net_deposit(self, amount_base_units: int, terms: ChainTerms) -> SignedFunding:
        domain = _required(terms.net_domain, "net")
        return self._funding(domain.verifying_contract, amount_base_units, random_nonce(), terms)

    def _funding(
        self, escrow: str, amount_base_units: int, nonce: bytes, terms: ChainTerms
    ) -> SignedFunding:
        signed = self._signed_authorization(
            escrow, amount_base_units, nonce, terms, AuthorizationKind.RECEIVE
        )
        message = signed.message
        return SignedFunding(
            self.address,
            amount_base_units,
            message.valid_after,
            message.valid_before,
            nonce,
            signed.signature,
        )

    def _signed_authorization(
        self,
        payee: str,
        amount_base_units: int,
        nonce: bytes,
        terms: ChainTerms,
        kind: AuthorizationKind = AuthorizationKind.TRANSFER,
    ) -> SignedMessage[TransferAuthorization]:
        """An EIP-3009 authorization valid from now for ``VALIDITY_S``."""
        message = TransferAuthorization(
            payer=self.address,
            payee=payee,
            value_base_units=amount_base_units,
            valid_after=terms.chain_time - 1,
            valid_before=terms.chain_time + VALIDITY_S,
            nonce=nonce,
            kind=kind,
        )
        return message.sign(self.private_key, terms.token_domain)

    def _direct(self, payee: str, amount_base_units: int, terms: ChainTerms) -> dict[str, Any]:
        transaction: dict[str, AccessList | bytes | HexStr | int] = {
            "type": 2,
            "chainId": terms.chain_id,
            "nonce": self.transaction_nonce,
            "to": HexStr(terms.token),
            "value": 0,
            "gas": MAX_DIRECT_GAS // 2,
            "maxFeePerGas": terms.max_fee_per_gas_wei,
            "maxPriorityFeePerGas": terms.max_priority_fee_per_gas_wei,
            "data": HexStr("0x" + transfer_calldata(payee, amount_base_units).hex()),
        }
        self.transaction_nonce += 1
        raw = self.account.sign_transaction(transaction).raw_transaction
        return {"raw_transaction": "0x" + bytes(raw).hex()}

    def _authorization(
        self, payee: str, amount_base_units: int, terms: ChainTerms
    ) -> dict[str, Any]:
        signed = self._signed_authorization(payee, amount_base_units, random_nonce(), terms)
        message = signed.message
        return {
            "valid_after": message.valid_after,
            "valid_before": message.valid_before,
            "nonce": "0x" + message.nonce.hex(),
            "signature": "0x" + signed.signature.hex(),
        }

    def _batch(self, payee: str, amount_base_units: int, terms: ChainTerms) -> dict[str, Any]:
        message = BatchPayment(
            payer=self.address,
            payee=payee,
            value_base_units=amount_base_units,
            nonce=self.batch_nonce,
            valid_before=terms.chain_time + VALIDITY_S,
        )
        self.batch_nonce += 1
        signed = message.sign(self.private_key, terms.token_domain)
        return {
            "nonce": message.nonce,
            "valid_before": message.valid_before,
            "signature": "0x" + signed.signature.hex(),
        }

    def _voucher(self, payee: str, amount_base_units: int, terms: ChainTerms) -> dict[str, Any]:
        channel = self.channels.get(payee)
        if channel is None:
            raise ValueError(f"{self.address} has no channel open to {payee}")
        if channel.promised_base_units + amount_base_units > channel.deposit_base_units:
            raise ValueError(f"the channel to {payee} lacks the deposit for {amount_base_units}")
        channel.promised_base_units += amount_base_units
        voucher = Voucher(self.address, channel.channel_id, channel.promised_base_units)
        signed = voucher.sign(self.private_key, _required(terms.channels_domain, "channel"))
        return {
            "channel_id": "0x" + channel.channel_id.hex(),
            "cumulative_amount": channel.promised_base_units,
            "signature": "0x" + signed.signature.hex(),
        }

    def _off_chain_payment(
        self, intent: PaymentIntent, domain: Eip712Domain, terms: ChainTerms
    ) -> dict[str, Any]:
        """A ``NetPayment`` signed under ``domain``: the net operator's, or the ledger's."""
        message = NetPayment(
            payment_id=intent.payment_id,
            payer=self.address,
            payee=intent.payee,
            value_base_units=intent.amount_base_units,
            valid_before=terms.chain_time + VALIDITY_S,
        )
        signed = message.sign(self.private_key, domain)
        return {"valid_before": message.valid_before, "signature": "0x" + signed.signature.hex()}


def _required(domain: Eip712Domain | None, mode: str) -> Eip712Domain:
    if domain is None:
        raise ValueError(f"the chain terms carry no {mode} contract to sign for")
    return domain
