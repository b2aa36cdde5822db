"""Batch mode: many signed payments settled by one ``settleBatch`` transaction on the token.

Each payment carries a ``BatchPayment`` signature with a bitmap nonce. A batch lists every payer
and payee once and refers to them by index, and packs each payment into three words (indexes,
value, nonce and expiry in one; the compact signature in two), which keeps calldata, the largest
per-payment cost after signature recovery and the ``Transfer`` log, small. A payment whose value,
nonce or expiry is too wide to pack is refused at acceptance. A payment the contract skips (spent
nonce, low balance, blocklist) is reported in a ``BatchPaymentSkipped`` event and fails here with
that reason; the rest of the batch settles. A round's payments are grouped by payer before they
are cut into batches, and each batch's gas limit is a bound that knows which of its storage slots
already hold a value (``prepare``), so batches run up to the 2**24 gas cap of one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    Preparation,
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
# A batch is cut by the 2**24 gas cap of one transaction (EIP-7825, post-Osaka chains) first; this
# bounds the memory one call and one planning step hold.
MAX_BATCH_PAYMENTS = 2_500
MAX_TRANSACTION_GAS = 2**24
# A packed payment's bits: value, nonce and expiry as the contract reads them (IBatchSettlement).
PACKED_VALUE_BITS, PACKED_NONCE_BITS, PACKED_VALID_BEFORE_BITS = 96, 88, 40
# The gas limit is a bound rather than a node estimate: eth_estimateGas searches by running the
# whole batch a dozen times, which took longer than settling it. Measured on
# contracts/test/gas/StablecoinBatchGas.t.sol (-vv): beyond its accounts' first touches a payment
# executes in about 5,970 gas, and about 6,150 when it is skipped after its signature was checked
# (the skip's log is larger than a transfer's). An account's word, and a payer's nonce word,
# cost about 6,000 on first touch when the slot holds a value (a cold read, a write back and the
# ledger's bookkeeping; 1.79M for 200 accounts and 100 nonce words) and 17,100 more when the
# write fills an empty slot; ``prepare`` reads which slots hold a value, so a batch in steady
# state is not cut short by the empty-slot worst case. Calldata is counted from the bytes.
BATCH_GAS_BASE = 60_000
BATCH_GAS_PER_PAYMENT = 6_300
BATCH_GAS_PER_SLOT = 6_000
BATCH_GAS_PER_EMPTY_SLOT = 17_100
BATCH_NONCE_BITMAP = function_signature_to_4byte_selector("batchNonceBitmap(address,uint256)")
# Calldata gas per byte (EIP-2028), and what an account's ABI word costs: 12 zero bytes, and
# at most 20 others.
ZERO_BYTE_GAS, NONZERO_BYTE_GAS = 4, 16
ACCOUNT_CALLDATA_GAS = 12 * ZERO_BYTE_GAS + 20 * NONZERO_BYTE_GAS


@dataclass(frozen=True)
class SlotsInUse:
    """Which account words and payer nonce words hold a value on chain, as ``prepare`` read
    them: writing one costs a reset, not an empty slot's fill. Accounts are lower-case."""

    accounts: frozenset[str] = frozenset()
    nonce_words: frozenset[tuple[str, int]] = frozenset()


class BatchGasBound:
    """The most gas a batch being built can use, payment by payment."""

    def __init__(self, in_use: SlotsInUse) -> None:
        self.in_use = in_use
        self.gas = BATCH_GAS_BASE
        self.accounts: set[str] = set()
        self.nonce_words: set[tuple[str, int]] = set()

    def cost_of(self, record: PaymentRecord) -> int:
        """What ``record`` adds: its own execution and calldata, and the first touch of each
        account and nonce word no earlier payment of the batch touched."""
        payer, payee = record.payer.lower(), record.payee.lower()
        gas = BATCH_GAS_PER_PAYMENT + payment_calldata_gas(record)
        for account in {payer, payee} - self.accounts:
            gas += ACCOUNT_CALLDATA_GAS + self._first_touch(account in self.in_use.accounts)
        word = (payer, nonce_word(record))
        if word not in self.nonce_words:
            gas += self._first_touch(word in self.in_use.nonce_words)
        return gas

    def add(self, record: PaymentRecord, cost: int) -> None:
        payer = record.payer.lower()
        self.accounts |= {payer, record.payee.lower()}
        self.nonce_words.add((payer, nonce_word(record)))
        self.gas += cost

    @staticmethod
    def _first_touch(in_use: bool) -> int:
        return BATCH_GAS_PER_SLOT + (0 if in_use else BATCH_GAS_PER_EMPTY_SLOT)


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
        # What the last ``prepare`` read; with no gate, every slot is priced as empty.
        self.slots_in_use = SlotsInUse()

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

    async def prepare(self, payments: Sequence[PaymentRecord]) -> Preparation:
        """Reads which of the round's account words and nonce words hold a value (one batch
        request), for the gas bound; every payment is ready."""
        if self.gate is not None and payments:
            self.slots_in_use = await slots_in_use(self.gate, payments)
        return Preparation(list(payments))

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        batches = self._cut(grouped_by_payer(payments))
        return [self._plan_batch(batch, gas) for batch, gas in batches]

    def _cut(self, payments: Sequence[PaymentRecord]) -> list[tuple[list[PaymentRecord], int]]:
        """Consecutive batches of at most ``batch_size`` whose gas bound fits the cap, each with
        its bound."""
        batches: list[tuple[list[PaymentRecord], int]] = []
        batch: list[PaymentRecord] = []
        bound = BatchGasBound(self.slots_in_use)
        for record in payments:
            cost = bound.cost_of(record)
            if batch and (len(batch) >= self.batch_size or bound.gas + cost > MAX_TRANSACTION_GAS):
                batches.append((batch, bound.gas))
                batch, bound = [], BatchGasBound(self.slots_in_use)
                cost = bound.cost_of(record)
            batch.append(record)
            bound.add(record, cost)
        if batch:
            batches.append((batch, bound.gas))
        return batches

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return settled_but_skipped(
            planned, skipped_in_call(mined, self.token, SKIPPED_TOPIC, SKIP_REASONS)
        )

    def _plan_batch(self, records: Sequence[PaymentRecord], gas: int) -> PlannedTransaction:
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
            gas=gas,
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


def grouped_by_payer(payments: Sequence[PaymentRecord]) -> list[PaymentRecord]:
    """The payments with each payer's together, payers in the order of their first payment and
    each payer's in its own order. A batch then holds whole payers, so it touches fewer payers'
    words and nonce words (each read and written once per batch): among 100 payers and 100
    payees, batches of about 20 payers touch 140 slots instead of 300. Order within a round
    changes nothing acceptance relies on: it admits a payment only against the payer's balance
    on chain, never against payments the payer is still to receive."""
    by_payer: dict[str, list[PaymentRecord]] = {}
    for record in payments:
        by_payer.setdefault(record.payer.lower(), []).append(record)
    return [record for group in by_payer.values() for record in group]


def nonce_word(record: PaymentRecord) -> int:
    """The payer's nonce word ``record``'s bitmap nonce is a bit of."""
    nonce: int = instrument_field(record.instrument, "nonce", int)
    return nonce >> 8


def payment_calldata_gas(record: PaymentRecord) -> int:
    """The most calldata gas ``record``'s packed payment can cost: its value, nonce and expiry
    bytes as they are; its two indexes and its signature's 64 bytes counted as non-zero, the
    dearer kind."""
    nonce: int = instrument_field(record.instrument, "nonce", int)
    valid_before: int = instrument_field(record.instrument, "valid_before", int)
    fields = (record.amount_base_units << 128 | nonce << 40 | valid_before).to_bytes(28, "big")
    zero_bytes = fields.count(0)
    return (4 + 64 + len(fields) - zero_bytes) * NONZERO_BYTE_GAS + zero_bytes * ZERO_BYTE_GAS


async def slots_in_use(gate: TokenGate, payments: Sequence[PaymentRecord]) -> SlotsInUse:
    """Which of the payments' account words and payer nonce words hold a value now. An account
    with a balance holds one; one without is priced as empty, even if its blocklist flag is set,
    which only over-counts."""
    accounts = sorted({a.lower() for p in payments for a in (p.payer, p.payee)})
    words = sorted({(p.payer.lower(), nonce_word(p)) for p in payments})

    def bitmap(word: tuple[str, int]) -> ChainQuestion:
        return gate.call(BATCH_NONCE_BITMAP, word_address(word[0]), word_uint(word[1]))

    answers = await gate.ask([gate.balance(a) for a in accounts] + [bitmap(w) for w in words])
    return SlotsInUse(
        accounts=frozenset(a for a in accounts if answers[gate.balance(a)]),
        nonce_words=frozenset(w for w in words if answers[bitmap(w)]),
    )
