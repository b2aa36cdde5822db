"""EIP-712 hashing, signing and signer recovery, computed directly for speed.

eth-account's generic typed-data encoder parses a JSON description on every call; settlement signs
and verifies thousands of fixed-shape messages a second, so the struct hashes are built here from
their ABI encoding, and a test checks every digest against eth-account's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from eth_abi.abi import encode
from eth_keys.datatypes import PrivateKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from settlement.errors import SignatureError

DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)
SIGNATURE_LENGTH = 65
# Ethereum signatures carry the recovery id as 27 or 28; the secp256k1 library uses 0 or 1.
RECOVERY_ID_OFFSET = 27


@dataclass(frozen=True)
class Eip712Domain:
    """The domain a contract signs under: its name, version, chain and address."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )

    def as_typed_data(self) -> dict[str, object]:
        """The domain in the shape wallets and eth-account expect."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }

    def digest(self, struct_hash: bytes) -> bytes:
        """The 32 bytes a signer signs: keccak256(0x1901 ‖ domain separator ‖ struct hash)."""
        return keccak(b"\x19\x01" + self.separator + struct_hash)


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A 65-byte signature r ‖ s ‖ v with v in {27, 28}, as Solidity's ECDSA expects."""
    raw: bytes = PrivateKey(private_key).sign_msg_hash(digest).to_bytes()
    return raw[:64] + bytes([raw[64] + RECOVERY_ID_OFFSET])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``; ``SignatureError`` if it is malformed."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    recovery_id = signature[64] - RECOVERY_ID_OFFSET
    if recovery_id not in (0, 1):
        raise SignatureError(f"signature v must be 27 or 28, got {signature[64]}")
    try:
        normalized = Signature(signature[:64] + bytes([recovery_id]))
        public_key = normalized.recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError) as error:
        raise SignatureError(f"signature does not recover: {error}") from None
    return public_key.to_checksum_address()


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a 65-byte signature, for contract functions that take them apart."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    return signature[64], signature[:32], signature[32:64]
