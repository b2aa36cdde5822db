"""Signed messages a payer gives away: EIP-3009 transfer authorizations, cancellations, permits.

Each message knows its EIP-712 type, hashes itself, and is signed by the payer's key. A signed
message can be verified off-chain before it is accepted, so a bad one never costs gas.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from settlement.domain.eip712 import Eip712Domain, recover_signer, sign_digest
from settlement.errors import SignatureError

NONCE_BYTES = 32
UINT256_MAX = 2**256 - 1


class AuthorizationKind(StrEnum):
    """Who may submit the authorization: anyone (transfer) or only the payee (receive)."""

    TRANSFER = "TransferWithAuthorization"
    RECEIVE = "ReceiveWithAuthorization"

    @property
    def type_string(self) -> str:
        return (
            f"{self.value}(address from,address to,uint256 value,uint256 validAfter,"
            "uint256 validBefore,bytes32 nonce)"
        )

    @property
    def typehash(self) -> bytes:
        return keccak(text=self.type_string)


CANCEL_AUTHORIZATION_TYPE = "CancelAuthorization(address authorizer,bytes32 nonce)"
PERMIT_TYPE = "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"


def random_nonce() -> bytes:
    """A fresh 32-byte EIP-3009 nonce; random, so concurrent authorizations never collide."""
    return secrets.token_bytes(NONCE_BYTES)


@dataclass(frozen=True)
class TransferAuthorization:
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

    def struct_hash(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "address", "address", "uint256", "uint256", "uint256", "bytes32"],
                [
                    self.kind.typehash,
                    self.payer,
                    self.payee,
                    self.value_base_units,
                    self.valid_after,
                    self.valid_before,
                    self.nonce,
                ],
            )
        )

    def sign(
        self, private_key: bytes, domain: Eip712Domain
    ) -> SignedMessage[TransferAuthorization]:
        return SignedMessage(self, sign_digest(private_key, domain.digest(self.struct_hash())))

    @property
    def signer(self) -> str:
        return self.payer


@dataclass(frozen=True)
class CancelAuthorization:
    """The authorizer's signed wish to spend ``nonce`` without a transfer."""

    authorizer: str
    nonce: bytes

    def struct_hash(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "address", "bytes32"],
                [keccak(text=CANCEL_AUTHORIZATION_TYPE), self.authorizer, self.nonce],
            )
        )

    def sign(self, private_key: bytes, domain: Eip712Domain) -> SignedMessage[CancelAuthorization]:
        return SignedMessage(self, sign_digest(private_key, domain.digest(self.struct_hash())))

    @property
    def signer(self) -> str:
        return self.authorizer


@dataclass(frozen=True)
class Permit:
    """An EIP-2612 approval of ``spender`` for ``value_base_units``, using the owner's nonce."""

    owner: str
    spender: str
    value_base_units: int
    nonce: int
    deadline: int

    def struct_hash(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "address", "address", "uint256", "uint256", "uint256"],
                [
                    keccak(text=PERMIT_TYPE),
                    self.owner,
                    self.spender,
                    self.value_base_units,
                    self.nonce,
                    self.deadline,
                ],
            )
        )

    def sign(self, private_key: bytes, domain: Eip712Domain) -> SignedMessage[Permit]:
        return SignedMessage(self, sign_digest(private_key, domain.digest(self.struct_hash())))

    @property
    def signer(self) -> str:
        return self.owner


MessageT = TypeVar("MessageT", TransferAuthorization, CancelAuthorization, Permit)


@dataclass(frozen=True)
class SignedMessage(Generic[MessageT]):
    """A message with its 65-byte signature."""

    message: MessageT
    signature: bytes

    def verify(self, domain: Eip712Domain) -> None:
        """Check off-chain that the expected signer signed this message in ``domain``."""
        recovered = recover_signer(domain.digest(self.message.struct_hash()), self.signature)
        expected = to_checksum_address(self.message.signer)
        if recovered != expected:
            raise SignatureError(f"signed by {recovered}, expected {expected}")
