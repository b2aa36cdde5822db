"""Turn revert data from a node into the name and arguments of the Solidity error."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from settlement.errors import ContractRevertedError

# Errors every Solidity contract can raise besides its custom ones.
_BUILTIN_ERRORS: dict[bytes, tuple[str, list[str]]] = {
    function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"]),
    function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"]),
}


def _abi_type(component: dict[str, Any]) -> str:
    """The canonical type of an ABI input, expanding tuples."""
    kind: str = component["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(part) for part in component["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


class RevertDecoder:
    """Decodes revert data against the custom errors of one or more ABIs."""

    def __init__(self, *abis: list[dict[str, Any]]) -> None:
        self._errors = dict(_BUILTIN_ERRORS)
        for abi in abis:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = [_abi_type(component) for component in entry.get("inputs", [])]
                signature = f"{entry['name']}({','.join(types)})"
                self._errors[function_signature_to_4byte_selector(signature)] = (
                    entry["name"],
                    types,
                )

    def decode(self, revert_data: bytes) -> ContractRevertedError:
        """The error for ``revert_data``; unknown selectors keep their hex so nothing is hidden."""
        if len(revert_data) < 4:
            return ContractRevertedError("EmptyRevert")
        known = self._errors.get(revert_data[:4])
        if known is None:
            return ContractRevertedError(f"UnknownError(0x{revert_data.hex()})")
        name, types = known
        try:
            arguments = decode(types, revert_data[4:])
        except Exception:
            return ContractRevertedError(f"{name}<undecodable 0x{revert_data[4:].hex()}>")
        return ContractRevertedError(
            name,
            tuple(_readable(kind, value) for kind, value in zip(types, arguments, strict=True)),
        )


def _readable(kind: str, value: object) -> object:
    """Addresses checksummed and bytes as 0x-hex, so errors read like the Solidity values."""
    if kind == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
