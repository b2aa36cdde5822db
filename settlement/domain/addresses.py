"""EIP-55 address checksums, computed with the C keccak (eth-utils' takes ~10x longer)."""

from __future__ import annotations

import functools
import re

from settlement.domain.eip712 import keccak256

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


# Cached: a payment checks its two addresses several times, and a fleet reuses a few thousand.
@functools.lru_cache(maxsize=65_536)
def to_checksummed(address: str) -> str:
    """The EIP-55 form of a 0x-prefixed 40-hex-digit address; ``ValueError`` for anything else."""
    if not _HEX_ADDRESS.match(address):
        raise ValueError(f"{address!r} is not a 20-byte hex address")
    lower = address[2:].lower()
    digest = keccak256(lower.encode()).hex()
    return "0x" + "".join(
        character.upper() if int(nibble, 16) >= 8 else character
        for character, nibble in zip(lower, digest, strict=False)
    )


def is_checksummed(address: str) -> bool:
    try:
        return to_checksummed(address) == address
    except ValueError:
        return False
