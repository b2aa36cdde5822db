"""x402's ``exact`` scheme on this chain: what a payment payload must be before it is a payment.

An ``exact`` payload is an EIP-3009 ``transferWithAuthorization`` the payer signed for exactly
the price a resource server asked, to its ``payTo``, on this chain's stablecoin. The checks here
are the ones x402's own facilitator makes before it touches the chain, in the same order and
with the same reason strings (``x402.mechanisms.evm.constants``), so an x402 client or resource
server reads our answers as it reads theirs. What passes becomes a payment in authorization
mode, whose idempotency key is the authorization itself: the same payload sent twice, to one
facilitator call or two, is one payment.

Pure: no chain, no store; the facilitator (``settlement.x402.facilitator``) asks those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from x402.mechanisms.evm import constants as reasons
from x402.schemas import PaymentPayload, PaymentRequirements

from settlement.domain.eip712 import Eip712Domain
from settlement.domain.payments import PaymentIntent, Purpose, SettlementMode
from settlement.errors import PaymentRejectedError
from settlement.settlers.base import PaymentSubmission

SCHEME = reasons.SCHEME_EXACT
X402_VERSION = 2
# x402's facilitator refuses an authorization whose window closes within 6 s: too little time to
# get a transaction mined.
VALID_BEFORE_MARGIN_S = 6
IDEMPOTENCY_PREFIX = "x402"


class X402RefusalError(Exception):
    """A payload this facilitator will not pay: x402's reason string and a sentence for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ChainTerms:
    """What an ``exact`` payment must name to be paid here."""

    chain_id: int
    token: str
    token_domain: Eip712Domain

    @property
    def network(self) -> str:
        """The chain as CAIP-2 names it, as x402 does."""
        return f"eip155:{self.chain_id}"


@dataclass(frozen=True)
class ExactPayment:
    """A payload that passed the checks: the payment it is, and who pays."""

    submission: PaymentSubmission
    payer: str
    nonce: bytes

    @property
    def payment_id(self) -> str:
        return "0x" + self.submission.intent.payment_id.hex()

    def check_window(self, now: int) -> None:
        """``X402RefusalError`` unless the authorization is open at chain time ``now`` and stays
        open long enough to be settled."""
        valid_after = self.submission.instrument["valid_after"]
        valid_before = self.submission.instrument["valid_before"]
        if valid_before < now + VALID_BEFORE_MARGIN_S:
            raise X402RefusalError(
                reasons.ERR_VALID_BEFORE_EXPIRED,
                f"the authorization expires at {valid_before}, chain time {now}: too soon to "
                "settle",
            )
        if valid_after > now:
            raise X402RefusalError(
                reasons.ERR_VALID_AFTER_FUTURE,
                f"the authorization is valid only after {valid_after}, chain time {now}",
            )


def exact_payment(
    payload: PaymentPayload, requirements: PaymentRequirements, terms: ChainTerms
) -> ExactPayment:
    """The payment ``payload`` makes under ``requirements``; ``X402RefusalError`` says why not.

    Its validity window is left to ``ExactPayment.check_window``: a payment already accepted
    is found by its payload even after the window closed.
    """
    _check_requirements(payload, requirements, terms)
    authorization, signature = _authorization(payload.payload)
    payer = _address(authorization.get("from"), "from")
    payee = _address(authorization.get("to"), "to")
    if payee.lower() != requirements.pay_to.lower():
        raise X402RefusalError(
            reasons.ERR_RECIPIENT_MISMATCH,
            f"the authorization pays {payee}, the resource asks for {requirements.pay_to}",
        )
    value = _uint(authorization.get("value"), "value")
    if value != _uint(requirements.amount, "amount"):
        raise X402RefusalError(
            reasons.ERR_AUTHORIZATION_VALUE_MISMATCH,
            f"the authorization pays {value}, the resource asks for exactly {requirements.amount}",
        )
    valid_after = _uint(authorization.get("validAfter"), "validAfter")
    valid_before = _uint(authorization.get("validBefore"), "validBefore")
    nonce = _bytes32(authorization.get("nonce"))
    try:
        intent = PaymentIntent(
            f"{IDEMPOTENCY_PREFIX}:{payer}:0x{nonce.hex()}", payer, payee, value, Purpose.COMPUTE
        )
    except PaymentRejectedError as error:
        raise X402RefusalError(reasons.ERR_AUTHORIZATION_VALUE_MISMATCH, str(error)) from None
    instrument = {
        "valid_after": valid_after,
        "valid_before": valid_before,
        "nonce": "0x" + nonce.hex(),
        "signature": signature,
    }
    submission = PaymentSubmission(intent, SettlementMode.AUTHORIZATION, instrument)
    return ExactPayment(submission, payer, nonce)


def _check_requirements(
    payload: PaymentPayload, requirements: PaymentRequirements, terms: ChainTerms
) -> None:
    if payload.accepted.scheme != SCHEME or requirements.scheme != SCHEME:
        raise X402RefusalError(
            reasons.ERR_UNSUPPORTED_SCHEME,
            f"this facilitator settles the {SCHEME!r} scheme, not {requirements.scheme!r}",
        )
    if payload.accepted.network != requirements.network or requirements.network != terms.network:
        raise X402RefusalError(
            reasons.ERR_NETWORK_MISMATCH,
            f"this facilitator settles on {terms.network}, not {requirements.network}",
        )
    if requirements.asset.lower() != terms.token.lower():
        raise X402RefusalError(
            reasons.ERR_FAILED_TO_GET_ASSET_INFO,
            f"this facilitator settles the token {terms.token}, not {requirements.asset}",
        )
    name, version = requirements.extra.get("name"), requirements.extra.get("version")
    if name is None or version is None:
        raise X402RefusalError(
            reasons.ERR_MISSING_EIP712_DOMAIN,
            "the requirements' extra must name the token's EIP-712 domain (name and version)",
        )
    if name != terms.token_domain.name:
        raise X402RefusalError(
            reasons.ERR_TOKEN_NAME_MISMATCH,
            f"the token's EIP-712 name is {terms.token_domain.name!r}, not {name!r}",
        )
    if version != terms.token_domain.version:
        raise X402RefusalError(
            reasons.ERR_TOKEN_VERSION_MISMATCH,
            f"the token's EIP-712 version is {terms.token_domain.version!r}, not {version!r}",
        )


def _authorization(inner: dict[str, Any]) -> tuple[dict[str, Any], str]:
    authorization, signature = inner.get("authorization"), inner.get("signature")
    if not isinstance(authorization, dict) or not isinstance(signature, str):
        raise X402RefusalError(
            reasons.ERR_INVALID_SIGNATURE,
            "an exact payload carries an EIP-3009 authorization and its signature",
        )
    return authorization, signature


def _address(value: object, field: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise X402RefusalError(
            reasons.ERR_INVALID_SIGNATURE, f"authorization.{field} is not an address"
        )
    return to_checksum_address(value)


def _uint(value: object, field: str) -> int:
    if not isinstance(value, str | int) or not str(value).isdigit():
        raise X402RefusalError(
            reasons.ERR_INVALID_SIGNATURE, f"{field} must be a non-negative integer string"
        )
    return int(value)


def _bytes32(value: object) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 66:
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise X402RefusalError(
        reasons.ERR_INVALID_SIGNATURE, "authorization.nonce must be 32 bytes of hex"
    )
