"""The deployed NetSettlement contract, seen from Python: deposits, windows, inclusion proofs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import AsyncContract

from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient, Receipt
from settlement.chain.reverts import RevertDecoder
from settlement.domain.messages import SignedMessage, TransferAuthorization

NET_SETTLEMENT_ARTIFACT = "NetSettlement"
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
DEFAULT_WITHDRAWAL_DELAY_S = 3_600


class NetSettlementContract:
    """Calls and transactions on one deployed NetSettlement."""

    def __init__(
        self, client: ChainClient, artifact: ContractArtifact, address: str, *extra_abis: Any
    ) -> None:
        self.client = client
        self.address: ChecksumAddress = to_checksum_address(address)
        self.decoder = RevertDecoder(artifact.abi, *extra_abis)
        self._contract: AsyncContract = client.w3.eth.contract(
            address=self.address, abi=artifact.abi
        )

    @classmethod
    async def deploy(
        cls,
        client: ChainClient,
        artifact: ContractArtifact,
        admin: LocalAccount,
        token: str,
        withdrawal_delay_s: int = DEFAULT_WITHDRAWAL_DELAY_S,
        token_abi: list[dict[str, Any]] | None = None,
    ) -> NetSettlementContract:
        """Deploy with ``admin`` as admin and operator."""
        factory = client.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(
            to_checksum_address(token), admin.address, withdrawal_delay_s
        ).data_in_transaction
        receipt = await client.send_transaction(
            admin, to=None, data=data, decoder=RevertDecoder(artifact.abi)
        )
        address = receipt.raw["contractAddress"]
        assert address is not None, "a contract creation receipt always carries the address"
        contract = cls(client, artifact, address, *([token_abi] if token_abi else []))
        await contract._send(admin, "grantRole", OPERATOR_ROLE, admin.address)
        return contract

    async def deposit(
        self, relayer: LocalAccount, signed: SignedMessage[TransferAuthorization]
    ) -> Receipt:
        """Relay an account's ReceiveWithAuthorization (to this contract) as its deposit."""
        message = signed.message
        assert message.payee == self.address, "a deposit authorization pays this contract"
        return await self._send(
            relayer,
            "deposit",
            to_checksum_address(message.payer),
            message.value_base_units,
            message.valid_after,
            message.valid_before,
            message.nonce,
            signed.signature,
        )

    async def settle_window(
        self,
        operator: LocalAccount,
        window_id: int,
        payments_root: bytes,
        payment_count: int,
        accounts: Sequence[str],
        deltas: Sequence[int],
    ) -> Receipt:
        return await self._send(
            operator,
            "settleWindow",
            window_id,
            payments_root,
            payment_count,
            [to_checksum_address(account) for account in accounts],
            list(deltas),
        )

    async def balance_of(self, account: str) -> int:
        return await self._read_uint("balanceOf", to_checksum_address(account))

    async def next_window_id(self) -> int:
        return await self._read_uint("nextWindowId")

    async def verify_payment(
        self,
        window_id: int,
        payment_id: bytes,
        payer: str,
        payee: str,
        value_base_units: int,
        proof: Sequence[bytes],
    ) -> bool:
        raw = await self._read(
            "verifyPayment",
            window_id,
            payment_id,
            to_checksum_address(payer),
            to_checksum_address(payee),
            value_base_units,
            list(proof),
        )
        return bool(decode(["bool"], raw)[0])

    def encode(self, function: str, *args: Any) -> HexStr:
        return HexStr(self._contract.encode_abi(function, args=list(args)))

    async def _send(self, sender: LocalAccount, function: str, *args: Any) -> Receipt:
        return await self.client.send_transaction(
            sender, to=self.address, data=self.encode(function, *args), decoder=self.decoder
        )

    async def _read(self, function: str, *args: Any) -> bytes:
        return await self.client.call(self.address, self.encode(function, *args), self.decoder)

    async def _read_uint(self, function: str, *args: Any) -> int:
        (value,) = decode(["uint256"], await self._read(function, *args))
        return int(value)
