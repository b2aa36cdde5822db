"""Checks on request values that pydantic's patterns cannot express."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path

from settlement.domain.addresses import to_checksummed
from settlement.errors import PaymentRejectedError

# Payment and channel ids in paths: 32 bytes as 0x-hex.
Bytes32Path = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]


def checked_address(value: str, role: str, status_code: int = 400) -> str:
    """A checksummed address; mixed case must carry a valid EIP-55 checksum.

    Body fields are refused as invalid payments (400); path parameters as malformed (422).
    """
    try:
        checksummed = to_checksummed(value)
    except ValueError:
        reason = f"{role} {value!r} is not a 20-byte hex address"
    else:
        hex_part = value[2:]
        if hex_part in (hex_part.lower(), hex_part.upper()) or value == checksummed:
            return checksummed
        reason = f"{role} {value} has a wrong EIP-55 checksum"
    if status_code == 400:
        raise PaymentRejectedError(reason)
    raise HTTPException(status_code, detail=reason)
