"""What every deployed-contract adapter shares: deployment, encoding, sends and reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

from eth_abi.abi import decode, encode
from eth_account.signers.local import LocalAccount
from eth_typing import ABIFunction, ChecksumAddress, HexStr
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types
from eth_utils.address import to_checksum_address
from web3.contract import AsyncContract

from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient, Receipt
from settlement.chain.reverts import RevertDecoder
from settlement.domain.eip712 import Eip712Domain
from settlement.errors import ChainError


async def deploy_contract(
    client: ChainClient, artifact: ContractArtifact, deployer: LocalAccount, *arguments: Any
) -> tuple[ChecksumAddress, Receipt]:
    """Deploy ``artifact`` with constructor ``arguments``; its address and the receipt."""
    factory = client.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*arguments).data_in_transaction
    receipt = await client.send_transaction(
        deployer, to=None, data=data, decoder=RevertDecoder(artifact.abi)
    )
    address = receipt.raw["contractAddress"]
    assert address is not None, "a contract creation receipt always carries the address"
    return to_checksum_address(address), receipt


def _unique_function_signatures(
    abi: Sequence[dict[str, Any]],
) -> dict[str, tuple[bytes, list[str]]]:
    """Each function name with one definition in ``abi``: its selector and ABI input types."""
    functions = [cast(ABIFunction, entry) for entry in abi if entry.get("type") == "function"]
    names = Counter(entry["name"] for entry in functions)
    return {
        entry["name"]: (function_abi_to_4byte_selector(entry), list(get_abi_input_types(entry)))
        for entry in functions
        if names[entry["name"]] == 1
    }


class ContractAdapter:
    """One deployed contract: encode calls by ABI, send them, read views, decode reverts."""

    def __init__(
        self,
        client: ChainClient,
        artifact: ContractArtifact,
        address: str,
        *extra_error_abis: list[dict[str, Any]],
    ) -> None:
        self.client = client
        self.address: ChecksumAddress = to_checksum_address(address)
        self.abi = artifact.abi
        # Errors of contracts this one calls (the token, for example) decode too.
        self.decoder = RevertDecoder(artifact.abi, *extra_error_abis)
        self._contract: AsyncContract = client.w3.eth.contract(
            address=self.address, abi=artifact.abi
        )
        self._signatures = _unique_function_signatures(artifact.abi)

    def eip712_domain(self, name: str, version: str) -> Eip712Domain:
        """The EIP-712 domain of messages signed for this contract on this chain."""
        return Eip712Domain(name, version, self.client.chain_id, self.address)

    def encode(self, function: str, *args: Any) -> HexStr:
        """Calldata for ``function(*args)``. Plain tuples and values are encoded with eth-abi
        against the function's cached selector and types: web3's ``encode_abi`` looks the
        function up and validates the ABI on every call, which took most of a net-mode round's
        CPU reading each payer's deposit. Overloaded names and struct arguments given as dicts
        go through web3."""
        signature = self._signatures.get(function)
        if signature is None or any(isinstance(arg, dict) for arg in args):
            return HexStr(self._contract.encode_abi(function, args=list(args)))
        selector, types = signature
        return HexStr("0x" + (selector + encode(types, args)).hex())

    async def _send(self, sender: LocalAccount, function: str, *args: Any) -> Receipt:
        return await self.client.send_transaction(
            sender, to=self.address, data=self.encode(function, *args), decoder=self.decoder
        )

    async def _read(self, function: str, *args: Any) -> bytes:
        return await self.client.call(self.address, self.encode(function, *args), self.decoder)

    async def _read_many(self, function: str, calls: Sequence[tuple[Any, ...]]) -> list[bytes]:
        """``function`` called once per argument tuple, in JSON-RPC batches at the latest block.

        One round trip per batch instead of one per call: reading a hundred balances takes
        about as long as reading one.
        """
        responses = await self.client.batch_request(
            [
                ("eth_call", [{"to": self.address, "data": self.encode(function, *args)}, "latest"])
                for args in calls
            ]
        )
        results = []
        for args, response in zip(calls, responses, strict=True):
            if "result" not in response:
                raise ChainError(f"{function}{args} failed: {response.get('error')}")
            results.append(bytes.fromhex(response["result"].removeprefix("0x")))
        return results

    async def _read_uint_many(self, function: str, calls: Sequence[tuple[Any, ...]]) -> list[int]:
        return [int.from_bytes(word, "big") for word in await self._read_many(function, calls)]

    async def _read_uint(self, function: str, *args: Any) -> int:
        (value,) = decode(["uint256"], await self._read(function, *args))
        return int(value)
