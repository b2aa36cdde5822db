"""Checks on request values that pydantic's patterns cannot express."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path

from settlement.domain.addresses import to_checksummed
from settlement.errors import PaymentRejectedError

# Payment and channel ids in paths: 32 bytes as 0x-hex.
Bytes32Path = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")]
# Addresses in paths: malformed ones are 422 like any malformed input; a wrong checksum is 400.
AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]


def checked_address(value: str, role: str) -> str:
    """A checksummed address; mixed case must carry a valid EIP-55 checksum, else
    ``PaymentRejectedError`` says why."""
    try:
        checksummed = to_checksummed(value)
    except ValueError:
        raise PaymentRejectedError(f"{role} {value!r} is not a 20-byte hex address") from None
    hex_part = value[2:]
    if hex_part in (hex_part.lower(), hex_part.upper()) or value == checksummed:
        return checksummed
    raise PaymentRejectedError(f"{role} {value} has a wrong EIP-55 checksum")


def path_address(value: str, role: str) -> str:
    """An address from a path (its shape already checked): a wrong checksum is a 400."""
    try:
        return checked_address(value, role)
    except PaymentRejectedError as rejection:
        raise HTTPException(400, detail=str(rejection)) from None
