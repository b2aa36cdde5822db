"""Batch mode: many signed payments settled by one ``settleBatch`` transaction on the token.

Each payment carries a ``BatchPayment`` signature with a bitmap nonce. A batch lists every payer
and payee once and refers to them by index, and packs each payment into three words (indexes,
value, nonce and expiry in one; the compact signature in two), which keeps calldata, the largest
per-payment cost after signature recovery and the ``Transfer`` log, small. A payment whose value,
nonce or expiry is too wide to pack is refused at acceptance. A payment the contract skips (spent
nonce, low balance, blocklist) is reported in a ``BatchPaymentSkipped`` event and fails here with
that reason; the rest of the batch settles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from eth_abi.abi import encode
from eth_typing import ChecksumAddress, HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from settlement.chain.relayer import MinedTransaction
from settlement.domain.eip712 import (
    Eip712Domain,
    compact_signature,
    keccak256,
    word_address,
    word_uint,
)
from settlement.domain.messages import BatchPayment, SignedMessage
from settlement.domain.payments import SettlementMode
from settlement.errors import PaymentRejectedError
from settlement.settlers.acceptance import ChainQuestion, TokenGate
from settlement.settlers.base import (
    ChainSettler,
    PaymentSubmission,
    PlannedTransaction,
    Verified,
    hex_bytes,
    instrument_field,
    require_time_to_settle,
    settled_but_skipped,
    skipped_in_call,
)
from settlement.store import NewPayment, PaymentOutcome, PaymentRecord

SETTLE_BATCH = function_signature_to_4byte_selector("settleBatch(address[],bytes)")
BATCH_NONCE_USED = function_signature_to_4byte_selector("batchNonceUsed(address,uint256)")
SKIPPED_TOPIC = keccak256(b"BatchPaymentSkipped(uint256,address,uint256,uint8)")
SKIP_REASONS = (
    "InvalidSignature",
    "NonceAlreadyUsed",
    "Expired",
    "InsufficientBalance",
    "AccountBlocklisted",
    "InvalidAccountIndex",
)
MAX_BATCH_PAYMENTS = 1_000
# A packed payment's bits: value, nonce and expiry as the contract reads them (IBatchSettlement).
PACKED_VALUE_BITS, PACKED_NONCE_BITS, PACKED_VALID_BEFORE_BITS = 96, 88, 40
# The gas limit is a worst case rather than a node estimate: eth_estimateGas searches by running
# the whole batch a dozen times, which took longer than settling it. A steady-state payment costs
# about 8.2k gas (6.9k to execute, 1.3k of calldata; contracts/test/gas/StablecoinBatchGas.t.sol);
# an account costs its word read and written once (5k), or written from zero (22.1k), and a payer
# its nonce word as well, which may be fresh too.
BATCH_GAS_BASE = 60_000
BATCH_GAS_PER_PAYMENT = 9_000
BATCH_GAS_PER_ACCOUNT = 28_000
# Post-Osaka chains cap one transaction at 2**24 gas (EIP-7825); a batch is cut to fit.
MAX_TRANSACTION_GAS = 2**24


def batch_payment_from(
    payer: str, payee: str, amount_base_units: int, instrument: Mapping[str, Any]
) -> SignedMessage[BatchPayment]:
    message = BatchPayment(
        payer=payer,
        payee=payee,
        value_base_units=amount_base_units,
        nonce=instrument_field(instrument, "nonce", int),
        valid_before=instrument_field(instrument, "valid_before", int),
    )
    for name, value, bits in (
        ("amount_base_units", message.value_base_units, PACKED_VALUE_BITS),
        ("instrument.nonce", message.nonce, PACKED_NONCE_BITS),
        ("instrument.valid_before", message.valid_before, PACKED_VALID_BEFORE_BITS),
    ):
        if not 0 <= value < 2**bits:
            raise PaymentRejectedError(f"{name} must be below 2**{bits} to be packed in a batch")
    return SignedMessage(message, hex_bytes(instrument, "signature", 65))


class BatchSettler(ChainSettler):
    mode: ClassVar[SettlementMode] = SettlementMode.BATCH
    max_payments_per_round: ClassVar[int] = 4 * MAX_BATCH_PAYMENTS
    requeue_on_revert: ClassVar[bool] = True

    def __init__(
        self,
        token: ChecksumAddress,
        token_domain: Eip712Domain,
        batch_size: int = MAX_BATCH_PAYMENTS,
        gate: TokenGate | None = None,
    ) -> None:
        """``gate``, when given, refuses at acceptance what the token's state refuses now."""
        assert 1 <= batch_size <= MAX_BATCH_PAYMENTS, f"batch size must be 1..{MAX_BATCH_PAYMENTS}"
        self.token = token
        self.domain = token_domain
        self.batch_size = batch_size
        self.gate = gate

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        intent = submission.intent
        signed = batch_payment_from(
            intent.payer, intent.payee, intent.amount_base_units, submission.instrument
        )
        require_time_to_settle("payment", signed.message.valid_before, chain_time)
        signed.verify(self.domain)
        return Verified(f"batch:{intent.payer}:{signed.message.nonce}")

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Besides the token's state, a bitmap nonce used or cancelled on chain."""
        if self.gate is None:
            return {}
        gate = self.gate

        def nonce_used(payment: NewPayment) -> ChainQuestion:
            nonce = payment.instrument["nonce"]
            return gate.call(BATCH_NONCE_USED, word_address(payment.intent.payer), word_uint(nonce))

        return await gate.refuse_spent_nonces(verified, nonce_used, "batch nonce")

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        return [self._plan_batch(batch) for batch in self._cut(payments)]

    def _cut(self, payments: Sequence[PaymentRecord]) -> list[list[PaymentRecord]]:
        """Consecutive batches of at most ``batch_size`` whose worst-case gas fits the cap."""
        batches: list[list[PaymentRecord]] = [[]]
        accounts: set[str] = set()
        for record in payments:
            new_accounts = {record.payer, record.payee} - accounts
            grown = worst_case_gas(len(batches[-1]) + 1, len(accounts) + len(new_accounts))
            if batches[-1] and (len(batches[-1]) >= self.batch_size or grown > MAX_TRANSACTION_GAS):
                batches.append([])
                accounts = set()
                new_accounts = {record.payer, record.payee}
            batches[-1].append(record)
            accounts |= new_accounts
        return [batch for batch in batches if batch]

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return settled_but_skipped(
            planned, skipped_in_call(mined, self.token, SKIPPED_TOPIC, SKIP_REASONS)
        )

    def _plan_batch(self, records: Sequence[PaymentRecord]) -> PlannedTransaction:
        # Keyed by checksum address: the contract refuses an account listed twice.
        accounts: dict[str, int] = {}
        packed = bytearray()
        for record in records:
            signed = batch_payment_from(
                record.payer, record.payee, record.amount_base_units, record.instrument
            )
            payer = accounts.setdefault(to_checksum_address(record.payer), len(accounts))
            payee = accounts.setdefault(to_checksum_address(record.payee), len(accounts))
            packed += packed_payment(payer, payee, signed)
        arguments = encode(["address[]", "bytes"], [list(accounts), bytes(packed)])
        return PlannedTransaction(
            to=self.token,
            data=HexStr("0x" + (SETTLE_BATCH + arguments).hex()),
            gas=worst_case_gas(len(records), len(accounts)),
            payment_ids=[record.payment_id for record in records],
        )


def packed_payment(payer: int, payee: int, signed: SignedMessage[BatchPayment]) -> bytes:
    """One payment as ``settleBatch`` reads it: indexes, value, nonce and expiry in one word
    (16, 16, 96, 88 and 40 bits from the top), then the compact signature's ``r`` and ``vs``."""
    message = signed.message
    head = (
        payer << 240
        | payee << 224
        | message.value_base_units << 128
        | message.nonce << 40
        | message.valid_before
    )
    r, vs = compact_signature(signed.signature)
    return head.to_bytes(32, "big") + r + vs


def worst_case_gas(payments: int, accounts: int) -> int:
    return BATCH_GAS_BASE + BATCH_GAS_PER_PAYMENT * payments + BATCH_GAS_PER_ACCOUNT * accounts
