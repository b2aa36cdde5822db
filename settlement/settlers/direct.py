"""Direct mode, the peer the other modes are measured against: each payer sends its own transfer.

The payer signs an ordinary EIP-1559 transaction calling ``transfer(payee, amount)`` on the token
and pays its own gas. The service checks that the signed bytes say exactly what the payment says,
then relays them unchanged, many per JSON-RPC batch, the way a careful web3.py user would; it
cannot re-sign them, so a stuck one is only rebroadcast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import rlp
from eth_abi.abi import encode
from eth_typing import ChecksumAddress, HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from settlement.chain.relayer import MinedTransaction, PresignedTransaction
from settlement.domain.eip712 import keccak256, recover_address_bytes
from settlement.domain.payments import SettlementMode
from settlement.errors import PaymentRejectedError, SignatureError
from settlement.settlers.acceptance import Answers, ChainQuestion, TokenGate
from settlement.settlers.base import (
    ChainSettler,
    PaymentSubmission,
    PlannedTransaction,
    Verified,
    all_settled,
    hex_bytes,
)
from settlement.store import NewPayment, PaymentOutcome, PaymentRecord

TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
EIP1559_TYPE = 0x02
EIP1559_FIELDS = 12
UNSIGNED_FIELDS = 9
MAX_RAW_TRANSACTION_BYTES = 1_024
# A transfer between existing holders costs about 41k gas, to a new one about 58k.
MAX_DIRECT_GAS = 200_000


def transfer_calldata(payee: str, amount_base_units: int) -> bytes:
    return TRANSFER + encode(["address", "uint256"], [payee, amount_base_units])


class DirectSettler(ChainSettler):
    mode: ClassVar[SettlementMode] = SettlementMode.DIRECT
    max_payments_per_round: ClassVar[int] = 2_000

    def __init__(
        self, token: ChecksumAddress, chain_id: int, gate: TokenGate | None = None
    ) -> None:
        """``gate``, when given, refuses at acceptance what the chain refuses now."""
        self.token = token
        self.chain_id = chain_id
        self.gate = gate

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        raw = hex_bytes(submission.instrument, "raw_transaction")
        fields = self._checked_fields(raw)
        intent = submission.intent
        sender = _recover_sender(fields)
        if sender != intent.payer:
            raise PaymentRejectedError(
                f"transaction is signed by {sender}, not the payer {intent.payer}"
            )
        if fields[7] != transfer_calldata(intent.payee, intent.amount_base_units):
            raise PaymentRejectedError("transaction does not transfer the amount to the payee")
        return Verified(f"direct:{intent.payer}:{_uint(fields[1])}")

    def _checked_fields(self, raw: bytes) -> list[bytes]:
        """The RLP fields of an EIP-1559 transaction calling the token with no ether."""
        if not 0 < len(raw) <= MAX_RAW_TRANSACTION_BYTES or raw[0] != EIP1559_TYPE:
            raise PaymentRejectedError("raw_transaction must be an EIP-1559 (type 2) transaction")
        try:
            fields = rlp.decode(raw[1:])
        except rlp.exceptions.DecodingError:
            raise PaymentRejectedError("raw_transaction is not valid RLP") from None
        if not isinstance(fields, list) or len(fields) != EIP1559_FIELDS:
            raise PaymentRejectedError("raw_transaction does not have the 12 EIP-1559 fields")
        chain_id, gas, to, value = _uint(fields[0]), _uint(fields[4]), fields[5], _uint(fields[6])
        if chain_id != self.chain_id:
            raise PaymentRejectedError(f"transaction is for chain {chain_id}, not {self.chain_id}")
        if to != bytes.fromhex(self.token[2:]) or value != 0:
            raise PaymentRejectedError("transaction must call the stablecoin and send no ether")
        if gas > MAX_DIRECT_GAS:
            raise PaymentRejectedError(f"transaction gas limit {gas} is above {MAX_DIRECT_GAS}")
        return fields

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Besides the token's state, a transaction whose nonce the payer has already used (it
        could never be mined, and its payment would wait for a receipt that never comes) or whose
        gas the payer's ether cannot pay."""
        if self.gate is None:
            return {}
        return await self.gate.refusals(verified, _sender_questions, _judge_sender)

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        return [
            PlannedTransaction(
                to=self.token,
                data=HexStr("0x" + transfer_calldata(record.payee, record.amount_base_units).hex()),
                gas=MAX_DIRECT_GAS,
                payment_ids=[record.payment_id],
                presigned=_presigned(record),
            )
            for record in payments
        ]

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return all_settled(planned)


def _mined_nonce(payer: str) -> ChainQuestion:
    return ChainQuestion.of("eth_getTransactionCount", [payer, "latest"])


def _ether(payer: str) -> ChainQuestion:
    return ChainQuestion.of("eth_getBalance", [payer, "latest"])


def _sender_questions(payment: NewPayment) -> list[ChainQuestion]:
    return [_mined_nonce(payment.intent.payer), _ether(payment.intent.payer)]


def _judge_sender(payment: NewPayment, answers: Answers) -> str | None:
    payer = payment.intent.payer
    fields = rlp.decode(hex_bytes(payment.instrument, "raw_transaction")[1:])
    nonce, next_nonce = _uint(fields[1]), answers[_mined_nonce(payer)]
    if nonce < next_nonce:
        return (
            f"transaction nonce {nonce} of {payer} is already used on chain "
            f"(its next nonce is {next_nonce})"
        )
    most_gas_costs_wei = _uint(fields[4]) * _uint(fields[3])
    ether_wei = answers[_ether(payer)]
    if ether_wei < most_gas_costs_wei:
        return (
            f"the payer {payer} holds {ether_wei} wei, less than the {most_gas_costs_wei} wei "
            "its transaction's gas may cost"
        )
    return None


def _recover_sender(fields: list[bytes]) -> str:
    signing_hash = keccak256(bytes([EIP1559_TYPE]) + rlp.encode(fields[:UNSIGNED_FIELDS]))
    signature = (
        _uint(fields[10]).to_bytes(32, "big")
        + _uint(fields[11]).to_bytes(32, "big")
        + bytes([_uint(fields[9]) + 27])
    )
    try:
        return to_checksum_address(recover_address_bytes(signing_hash, signature))
    except SignatureError as error:
        raise PaymentRejectedError(f"raw_transaction signature: {error}") from None


def _presigned(record: PaymentRecord) -> PresignedTransaction:
    """The stored transaction, checked at acceptance: its signer is the payer, so settling needs
    no second signature recovery, only the nonce and the hash."""
    raw = hex_bytes(record.instrument, "raw_transaction")
    return PresignedTransaction(
        raw=raw,
        sender=to_checksum_address(record.payer),
        nonce=_uint(rlp.decode(raw[1:])[1]),
        tx_hash="0x" + keccak256(raw).hex(),
    )


def _uint(value: bytes) -> int:
    return int.from_bytes(value, "big")
