"""EIP-712 hashing, signing and signer recovery, computed directly for speed.

eth-account's generic typed-data encoder parses a JSON description on every call and takes about
a millisecond; the service verifies thousands of fixed-shape messages a second. So the messages here
encode their static fields by hand (every field is one 32-byte word), hash with a C keccak, and sign
and recover with libsecp256k1 through coincurve. Tests check every digest and signature against
eth-account's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import coincurve
import sha3
from eth_utils.address import to_checksum_address

from settlement.errors import SignatureError

SIGNATURE_LENGTH = 65
# Ethereum signatures carry the recovery id as 27 or 28; libsecp256k1 uses 0 or 1.
RECOVERY_ID_OFFSET = 27
WORD_BYTES = 32
UINT256_MAX = 2**256 - 1
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1
# secp256k1's group order halved: signatures with a larger s are malleable copies, and
# OpenZeppelin's ECDSA refuses them.
SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def keccak256(data: bytes) -> bytes:
    digest: bytes = sha3.keccak_256(data).digest()
    return digest


def type_hash(type_string: str) -> bytes:
    return keccak256(type_string.encode())


def word_uint(value: int) -> bytes:
    if not 0 <= value <= UINT256_MAX:
        raise ValueError(f"{value} does not fit in uint256")
    return value.to_bytes(WORD_BYTES, "big")


def word_int(value: int) -> bytes:
    if not INT256_MIN <= value <= INT256_MAX:
        raise ValueError(f"{value} does not fit in int256")
    return value.to_bytes(WORD_BYTES, "big", signed=True)


def word_address(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"{address} is not a 20-byte address")
    return bytes(12) + raw


def word_bytes32(value: bytes) -> bytes:
    if len(value) != WORD_BYTES:
        raise ValueError(f"expected 32 bytes, got {len(value)}")
    return value


def word_string(value: str) -> bytes:
    """EIP-712 encodes a string field as the keccak of its UTF-8 bytes."""
    return keccak256(value.encode())


@dataclass(frozen=True)
class Eip712Domain:
    """The domain a contract signs under: its name, version, chain and address."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @cached_property
    def separator(self) -> bytes:
        return keccak256(
            type_hash(
                "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
            )
            + word_string(self.name)
            + word_string(self.version)
            + word_uint(self.chain_id)
            + word_address(self.verifying_contract)
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
        return keccak256(b"\x19\x01" + self.separator + struct_hash)


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A 65-byte signature r ‖ s ‖ v with v in {27, 28} and a low s, as Solidity expects."""
    raw = coincurve.PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + RECOVERY_ID_OFFSET])


def recover_address_bytes(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed ``digest``; ``SignatureError`` if none can have."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    recovery_id = signature[64] - RECOVERY_ID_OFFSET
    if recovery_id not in (0, 1):
        raise SignatureError(f"signature v must be 27 or 28, got {signature[64]}")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_ORDER:
        raise SignatureError("signature s is in the upper half of the curve order (malleable)")
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([recovery_id]), digest, hasher=None
        )
    except ValueError as error:
        raise SignatureError(f"signature does not recover: {error}") from None
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``."""
    return to_checksum_address(recover_address_bytes(digest, signature))


def split_signature(signature: bytes) -> tuple[int, bytes, bytes]:
    """(v, r, s) of a 65-byte signature, for contract functions that take them apart."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"signature must be {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    return signature[64], signature[:32], signature[32:64]


def compact_signature(signature: bytes) -> tuple[bytes, bytes]:
    """The EIP-2098 form (r, vs): 64 bytes instead of 65, the parity bit folded into s's top bit."""
    v, r, s = split_signature(signature)
    vs = int.from_bytes(s, "big") | ((v - RECOVERY_ID_OFFSET) << 255)
    return r, vs.to_bytes(WORD_BYTES, "big")
