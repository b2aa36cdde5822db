"""Authorization mode: each payment is an EIP-3009 authorization, relayed in its own transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from eth_abi.abi import encode
from eth_typing import ChecksumAddress, HexStr
from eth_utils.abi import function_signature_to_4byte_selector

from settlement.chain.relayer import MinedTransaction
from settlement.domain.eip712 import Eip712Domain, keccak256, word_address, word_bytes32
from settlement.domain.messages import SignedMessage, TransferAuthorization
from settlement.domain.payments import SettlementMode
from settlement.errors import NotYetValidError, PaymentRejectedError
from settlement.settlers.acceptance import ChainQuestion, TokenGate
from settlement.settlers.base import (
    ChainSettler,
    PaymentSubmission,
    PlannedTransaction,
    Verified,
    all_settled,
    hex_bytes,
    instrument_field,
    require_time_to_settle,
    settled_but_skipped,
    skipped_in_call,
)
from settlement.store import NewPayment, PaymentOutcome, PaymentRecord

AUTHORIZATION_STATE = function_signature_to_4byte_selector("authorizationState(address,bytes32)")
TRANSFER_WITH_AUTHORIZATION = function_signature_to_4byte_selector(
    "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
)
# Measured at 75-93k; the limit leaves room for a payee's first balance slot and cold accounts.
AUTHORIZATION_GAS_LIMIT = 150_000


def authorization_from(
    payer: str, payee: str, amount_base_units: int, instrument: Mapping[str, Any]
) -> SignedMessage[TransferAuthorization]:
    """The signed EIP-3009 authorization a payment's instrument carries."""
    try:
        message = TransferAuthorization(
            payer=payer,
            payee=payee,
            value_base_units=amount_base_units,
            valid_after=instrument_field(instrument, "valid_after", int),
            valid_before=instrument_field(instrument, "valid_before", int),
            nonce=hex_bytes(instrument, "nonce", 32),
        )
    except ValueError as error:
        raise PaymentRejectedError(str(error)) from None
    return SignedMessage(message, hex_bytes(instrument, "signature", 65))


class AuthorizationSettler(ChainSettler):
    """Relays each EIP-3009 ``transferWithAuthorization`` as its own transaction."""

    mode: ClassVar[SettlementMode] = SettlementMode.AUTHORIZATION
    max_payments_per_round: ClassVar[int] = 2_000

    def __init__(
        self, token: ChecksumAddress, token_domain: Eip712Domain, gate: TokenGate | None = None
    ) -> None:
        """``gate``, when given, refuses at acceptance what the token's state refuses now."""
        self.token = token
        self.domain = token_domain
        self.gate = gate

    def check(self, submission: PaymentSubmission, chain_time: int) -> Verified:
        intent = submission.intent
        signed = authorization_from(
            intent.payer, intent.payee, intent.amount_base_units, submission.instrument
        )
        check_validity_window(signed.message.valid_after, signed.message.valid_before, chain_time)
        signed.verify(self.domain)
        return Verified(f"eip3009:{signed.message.payer}:0x{signed.message.nonce.hex()}")

    async def admit(self, verified: Sequence[NewPayment]) -> dict[str, str]:
        """Besides the token's state, an authorization nonce used or cancelled on chain."""
        if self.gate is None:
            return {}
        gate = self.gate

        def nonce_state(payment: NewPayment) -> ChainQuestion:
            nonce = bytes.fromhex(payment.instrument["nonce"][2:])
            return gate.call(
                AUTHORIZATION_STATE, word_address(payment.intent.payer), word_bytes32(nonce)
            )

        return await gate.refuse_spent_nonces(verified, nonce_state, "authorization nonce")

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        return [
            PlannedTransaction(
                to=self.token,
                data=encode_transfer_with_authorization(
                    authorization_from(
                        record.payer, record.payee, record.amount_base_units, record.instrument
                    )
                ),
                gas=AUTHORIZATION_GAS_LIMIT,
                payment_ids=[record.payment_id],
            )
            for record in payments
        ]

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        return all_settled(planned)


def check_validity_window(valid_after: int, valid_before: int, chain_time: int) -> None:
    if valid_after >= chain_time:
        raise NotYetValidError(
            f"authorization is not valid yet: valid after {valid_after}, chain time {chain_time}"
        )
    require_time_to_settle("authorization", valid_before, chain_time)


# transferWithAuthorization's (from, to, value, validAfter, validBefore, nonce, signature).
AUTHORIZATION_ARGUMENT_TYPES = (
    "address",
    "address",
    "uint256",
    "uint256",
    "uint256",
    "bytes32",
    "bytes",
)


def authorization_arguments(signed: SignedMessage[TransferAuthorization]) -> tuple[Any, ...]:
    """``transferWithAuthorization``'s arguments, in its order (also one entry of
    ``transferWithAuthorizations``)."""
    message = signed.message
    return (
        message.payer,
        message.payee,
        message.value_base_units,
        message.valid_after,
        message.valid_before,
        message.nonce,
        signed.signature,
    )


def encode_transfer_with_authorization(signed: SignedMessage[TransferAuthorization]) -> HexStr:
    arguments = encode(AUTHORIZATION_ARGUMENT_TYPES, authorization_arguments(signed))
    return HexStr("0x" + (TRANSFER_WITH_AUTHORIZATION + arguments).hex())


TRANSFER_WITH_AUTHORIZATIONS = function_signature_to_4byte_selector(
    "transferWithAuthorizations((address,address,uint256,uint256,uint256,bytes32,bytes)[])"
)
AUTHORIZATION_SKIPPED_TOPIC = keccak256(b"AuthorizationSkipped(uint256,address,bytes32,uint8)")
AUTHORIZATION_SKIP_REASONS = (
    "NotYetValid",
    "Expired",
    "AlreadyUsed",
    "InvalidSignature",
    "Blocklisted",
    "InsufficientBalance",
    "InvalidRecipient",
)
# One batched authorization: a fresh nonce slot (22.1k), the two balances, the signature check and
# its calldata come to about 45k; the bound leaves room for a payee's first balance slot.
BATCHED_AUTHORIZATION_GAS = 70_000
BATCH_BASE_GAS = 60_000
AUTHORIZATIONS_PER_TRANSACTION = 180
# A round's transactions go out together, so their bounds together fit one 30M-gas block (see
# settlement.settlers.net.ROUND_GAS_BUDGET): two transactions of 180.
BATCHED_TRANSACTIONS_PER_ROUND = 2


class BatchedAuthorizationSettler(AuthorizationSettler):
    """Authorization mode with many authorizations in one ``transferWithAuthorizations``: the
    same payments, the same checks, the base transaction cost shared. One that the token refuses
    (a spent nonce, a balance gone) is skipped with its reason, and the rest settle."""

    max_payments_per_round: ClassVar[int] = (
        AUTHORIZATIONS_PER_TRANSACTION * BATCHED_TRANSACTIONS_PER_ROUND
    )
    # A reverted call (the token paused) moves nothing: queue its payments again.
    requeue_on_revert: ClassVar[bool] = True

    def plan(self, payments: Sequence[PaymentRecord]) -> list[PlannedTransaction]:
        return [
            self._plan_call(payments[start : start + AUTHORIZATIONS_PER_TRANSACTION])
            for start in range(0, len(payments), AUTHORIZATIONS_PER_TRANSACTION)
        ]

    def outcomes(
        self, planned: Sequence[PaymentRecord], mined: MinedTransaction
    ) -> list[PaymentOutcome]:
        skipped = skipped_in_call(
            mined, self.token, AUTHORIZATION_SKIPPED_TOPIC, AUTHORIZATION_SKIP_REASONS
        )
        return settled_but_skipped(planned, skipped)

    def _plan_call(self, records: Sequence[PaymentRecord]) -> PlannedTransaction:
        authorizations = [
            authorization_arguments(
                authorization_from(
                    record.payer, record.payee, record.amount_base_units, record.instrument
                )
            )
            for record in records
        ]
        arguments = encode([f"({','.join(AUTHORIZATION_ARGUMENT_TYPES)})[]"], [authorizations])
        return PlannedTransaction(
            to=self.token,
            data=HexStr("0x" + (TRANSFER_WITH_AUTHORIZATIONS + arguments).hex()),
            gas=BATCH_BASE_GAS + BATCHED_AUTHORIZATION_GAS * len(records),
            payment_ids=[record.payment_id for record in records],
        )
