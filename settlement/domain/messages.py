"""The signed messages of the settlement modes, each an EIP-712 struct.

A payer signs one of these instead of sending a transaction. Each message hashes itself from its
fields (all static, one 32-byte word each), is signed by the payer's key, and can be verified
off-chain before it is accepted, so a bad one never costs gas.

| message                   | contract domain      | mode          |
|---------------------------|----------------------|---------------|
| TransferAuthorization     | stablecoin           | authorization |
| CancelAuthorization       | stablecoin           | (cancels one) |
| Permit                    | stablecoin           | (approvals)   |
| BatchPayment              | stablecoin           | batch         |
| Voucher                   | payment channels     | channel       |
| NetPayment                | net settlement       | net           |
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar

from eth_utils.address import to_checksum_address

from settlement.domain.eip712 import (
    Eip712Domain,
    keccak256,
    recover_address_bytes,
    sign_digest,
    type_hash,
    word_address,
    word_bytes32,
    word_uint,
)
from settlement.errors import SignatureError

NONCE_BYTES = 32
UINT256_MAX = 2**256 - 1


def random_nonce() -> bytes:
    """A fresh 32-byte EIP-3009 nonce; random, so concurrent authorizations never collide."""
    return secrets.token_bytes(NONCE_BYTES)


class TypedMessage(ABC):
    """An EIP-712 struct of static fields, signed by one account."""

    TYPE_STRING: ClassVar[str]

    @property
    @abstractmethod
    def signer(self) -> str:
        """The address whose signature makes this message valid."""

    @abstractmethod
    def encoded_fields(self) -> bytes:
        """The fields' 32-byte words in type order, without the type hash."""

    def type_string(self) -> str:
        return self.TYPE_STRING

    def struct_hash(self) -> bytes:
        return keccak256(type_hash(self.type_string()) + self.encoded_fields())

    def sign(self: MessageT, private_key: bytes, domain: Eip712Domain) -> SignedMessage[MessageT]:
        return SignedMessage(self, sign_digest(private_key, domain.digest(self.struct_hash())))


MessageT = TypeVar("MessageT", bound=TypedMessage)


@dataclass(frozen=True)
class SignedMessage(Generic[MessageT]):
    """A message with its 65-byte signature."""

    message: MessageT
    signature: bytes

    def verify(self, domain: Eip712Domain) -> None:
        """Check off-chain that the expected signer signed this message in ``domain``."""
        digest = domain.digest(self.message.struct_hash())
        recovered = recover_address_bytes(digest, self.signature)
        expected = bytes.fromhex(self.message.signer.removeprefix("0x"))
        if recovered != expected:
            raise SignatureError(
                f"signed by {to_checksum_address(recovered)}, "
                f"expected {to_checksum_address(expected)}"
            )


class AuthorizationKind(StrEnum):
    """Who may submit an EIP-3009 authorization: anyone (transfer) or only the payee (receive)."""

    TRANSFER = "TransferWithAuthorization"
    RECEIVE = "ReceiveWithAuthorization"


@dataclass(frozen=True)
class TransferAuthorization(TypedMessage):
    """An EIP-3009 authorization to move ``value_base_units`` from ``payer`` to ``payee``."""

    payer: str
    payee: str
    value_base_units: int
    valid_after: int
    valid_before: int
    nonce: bytes
    kind: AuthorizationKind = AuthorizationKind.TRANSFER

    def __post_init__(self) -> None:
        if not 0 <= self.value_base_units <= UINT256_MAX:
            raise ValueError(f"value_base_units out of uint256 range: {self.value_base_units}")
        if len(self.nonce) != NONCE_BYTES:
            raise ValueError(f"nonce must be {NONCE_BYTES} bytes, got {len(self.nonce)}")
        if self.valid_after >= self.valid_before:
            raise ValueError("valid_after must be earlier than valid_before")

    def type_string(self) -> str:
        return (
            f"{self.kind.value}(address from,address to,uint256 value,uint256 validAfter,"
            "uint256 validBefore,bytes32 nonce)"
        )

    @property
    def signer(self) -> str:
        return self.payer

    def encoded_fields(self) -> bytes:
        return (
            word_address(self.payer)
            + word_address(self.payee)
            + word_uint(self.value_base_units)
            + word_uint(self.valid_after)
            + word_uint(self.valid_before)
            + word_bytes32(self.nonce)
        )


@dataclass(frozen=True)
class CancelAuthorization(TypedMessage):
    """The authorizer's signed wish to spend an EIP-3009 ``nonce`` without a transfer."""

    TYPE_STRING: ClassVar[str] = "CancelAuthorization(address authorizer,bytes32 nonce)"

    authorizer: str
    nonce: bytes

    @property
    def signer(self) -> str:
        return self.authorizer

    def encoded_fields(self) -> bytes:
        return word_address(self.authorizer) + word_bytes32(self.nonce)


@dataclass(frozen=True)
class Permit(TypedMessage):
    """An EIP-2612 approval of ``spender`` for ``value_base_units``, using the owner's nonce."""

    TYPE_STRING: ClassVar[str] = (
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    )

    owner: str
    spender: str
    value_base_units: int
    nonce: int
    deadline: int

    @property
    def signer(self) -> str:
        return self.owner

    def encoded_fields(self) -> bytes:
        return (
            word_address(self.owner)
            + word_address(self.spender)
            + word_uint(self.value_base_units)
            + word_uint(self.nonce)
            + word_uint(self.deadline)
        )


@dataclass(frozen=True)
class BatchPayment(TypedMessage):
    """A payment for batch settlement, with a bitmap nonce (word = nonce >> 8, bit = nonce & 255).

    Its type differs from EIP-3009's, so one signature can never be spent through both paths; and
    a payer's consecutive nonces share one storage slot on chain, 256 payments per slot.
    """

    TYPE_STRING: ClassVar[str] = (
        "BatchPayment(address from,address to,uint256 value,uint256 nonce,uint256 validBefore)"
    )

    payer: str
    payee: str
    value_base_units: int
    nonce: int
    valid_before: int

    @property
    def signer(self) -> str:
        return self.payer

    def encoded_fields(self) -> bytes:
        return (
            word_address(self.payer)
            + word_address(self.payee)
            + word_uint(self.value_base_units)
            + word_uint(self.nonce)
            + word_uint(self.valid_before)
        )


@dataclass(frozen=True)
class Voucher(TypedMessage):
    """The payer's promise that the payee may claim ``cumulative_base_units`` from a channel.

    Vouchers are cumulative: each new one replaces the last, so only the latest is ever claimed
    and a payment is the difference between two consecutive vouchers.
    """

    TYPE_STRING: ClassVar[str] = "Voucher(bytes32 channelId,uint256 cumulativeAmount)"

    payer: str
    channel_id: bytes
    cumulative_base_units: int

    @property
    def signer(self) -> str:
        return self.payer

    def encoded_fields(self) -> bytes:
        return word_bytes32(self.channel_id) + word_uint(self.cumulative_base_units)


@dataclass(frozen=True)
class NetPayment(TypedMessage):
    """A payment the net-settlement operator verifies off-chain and nets into a window.

    ``payment_id`` is in the signed fields so that the Merkle leaf posted on chain names a payment
    the payer really signed, and anyone holding the signature can audit its inclusion.
    """

    TYPE_STRING: ClassVar[str] = (
        "NetPayment(bytes32 paymentId,address from,address to,uint256 value,uint256 validBefore)"
    )

    payment_id: bytes
    payer: str
    payee: str
    value_base_units: int
    valid_before: int

    @property
    def signer(self) -> str:
        return self.payer

    def encoded_fields(self) -> bytes:
        return (
            word_bytes32(self.payment_id)
            + word_address(self.payer)
            + word_address(self.payee)
            + word_uint(self.value_base_units)
            + word_uint(self.valid_before)
        )
