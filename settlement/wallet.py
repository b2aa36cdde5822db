"""The payer's side: a robot's key signing the instrument each settlement mode needs.

A wallet keeps the counters a payer owns: its next transaction nonce (direct mode) and its next
bitmap nonce (batch mode, consecutive so 256 payments share one storage slot on chain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.types import AccessList
from eth_typing import HexStr

from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import BatchPayment, TransferAuthorization, random_nonce
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


@dataclass
class PayerWallet:
    private_key: bytes
    transaction_nonce: int = 0
    batch_nonce: int = 0
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
        return PaymentSubmission(
            intent, mode, self.instrument(mode, payee, amount_base_units, terms)
        )

    def instrument(
        self, mode: SettlementMode, payee: str, amount_base_units: int, terms: ChainTerms
    ) -> dict[str, Any]:
        if mode is SettlementMode.DIRECT:
            return self._direct(payee, amount_base_units, terms)
        if mode is SettlementMode.AUTHORIZATION:
            return self._authorization(payee, amount_base_units, terms)
        if mode is SettlementMode.BATCH:
            return self._batch(payee, amount_base_units, terms)
        raise ValueError(f"this wallet cannot sign for mode {mode.value!r} yet")

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
        message = TransferAuthorization(
            payer=self.address,
            payee=payee,
            value_base_units=amount_base_units,
            valid_after=terms.chain_time - 1,
            valid_before=terms.chain_time + VALIDITY_S,
            nonce=random_nonce(),
        )
        signed = message.sign(self.private_key, terms.token_domain)
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
