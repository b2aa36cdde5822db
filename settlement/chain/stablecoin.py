"""The deployed stablecoin, seen from Python: deploy, roles, mint, transfers and authorizations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient, Receipt
from settlement.chain.contract import ContractAdapter, deploy_contract
from settlement.domain.messages import (
    CancelAuthorization,
    Permit,
    SignedMessage,
    TransferAuthorization,
)

STABLECOIN_ARTIFACT = "Stablecoin"
EIP712_VERSION = "1"
DECIMALS = 6


class Role:
    """Role identifiers as the contract computes them (``keccak256`` of the name)."""

    DEFAULT_ADMIN = b"\x00" * 32
    MINTER = keccak(text="MINTER_ROLE")
    PAUSER = keccak(text="PAUSER_ROLE")
    BLOCKLISTER = keccak(text="BLOCKLISTER_ROLE")
    RESCUER = keccak(text="RESCUER_ROLE")


@dataclass(frozen=True)
class TokenIdentity:
    name: str = "Robot Dollar"
    symbol: str = "RUSD"


class StablecoinContract(ContractAdapter):
    """Calls and transactions on one deployed stablecoin."""

    def __init__(self, client: ChainClient, artifact: ContractArtifact, address: str, name: str):
        super().__init__(client, artifact, address)
        self.domain = self.eip712_domain(name, EIP712_VERSION)

    @classmethod
    async def deploy(
        cls,
        client: ChainClient,
        artifact: ContractArtifact,
        admin: LocalAccount,
        identity: TokenIdentity | None = None,
    ) -> tuple[StablecoinContract, Receipt]:
        """Deploy a new stablecoin with ``admin`` holding the default admin role."""
        identity = identity or TokenIdentity()
        address, receipt = await deploy_contract(
            client, artifact, admin, identity.name, identity.symbol, admin.address
        )
        return cls(client, artifact, address, identity.name), receipt

    @classmethod
    async def attach(
        cls, client: ChainClient, artifact: ContractArtifact, address: str
    ) -> StablecoinContract:
        """A stablecoin deployed earlier; its name (the EIP-712 domain name) is read from chain."""
        probe = cls(client, artifact, address, name="")
        (name,) = decode(["string"], await probe._read("name"))
        return cls(client, artifact, address, str(name))

    # ------------------------------------------------------------ reads

    async def balance_of(self, account: str) -> int:
        return await self._read_uint("balanceOf", to_checksum_address(account))

    async def balances(self, accounts: Sequence[str]) -> dict[str, int]:
        """Several accounts' balances, read in one batch of calls at the latest block."""
        raw = await self._read_many("balanceOf", [(account,) for account in accounts])
        return {
            account: int.from_bytes(word, "big")
            for account, word in zip(accounts, raw, strict=True)
        }

    async def total_supply(self) -> int:
        return await self._read_uint("totalSupply")

    async def minter_allowance(self, minter: str) -> int:
        return await self._read_uint("minterAllowance", to_checksum_address(minter))

    async def permit_nonce(self, owner: str) -> int:
        return await self._read_uint("nonces", to_checksum_address(owner))

    async def allowance(self, owner: str, spender: str) -> int:
        return await self._read_uint(
            "allowance", to_checksum_address(owner), to_checksum_address(spender)
        )

    async def authorization_used(self, authorizer: str, nonce: bytes) -> bool:
        return bool(
            await self._read_uint("authorizationState", to_checksum_address(authorizer), nonce)
        )

    async def domain_separator(self) -> bytes:
        raw = await self._read("DOMAIN_SEPARATOR")
        return bytes(raw[:32])

    # ------------------------------------------------------------ administration

    async def grant_role(self, admin: LocalAccount, role: bytes, account: str) -> Receipt:
        return await self._send(admin, "grantRole", role, to_checksum_address(account))

    async def configure_minter(self, admin: LocalAccount, minter: str, allowance: int) -> Receipt:
        return await self._send(admin, "configureMinter", to_checksum_address(minter), allowance)

    async def mint(self, minter: LocalAccount, to: str, amount_base_units: int) -> Receipt:
        return await self._send(minter, "mint", to_checksum_address(to), amount_base_units)

    async def pause(self, pauser: LocalAccount) -> Receipt:
        return await self._send(pauser, "pause")

    async def unpause(self, pauser: LocalAccount) -> Receipt:
        return await self._send(pauser, "unpause")

    async def blocklist(self, blocklister: LocalAccount, account: str) -> Receipt:
        return await self._send(blocklister, "blocklist", to_checksum_address(account))

    async def unblocklist(self, blocklister: LocalAccount, account: str) -> Receipt:
        return await self._send(blocklister, "unblocklist", to_checksum_address(account))

    # ------------------------------------------------------------ payments

    async def transfer(self, payer: LocalAccount, payee: str, amount_base_units: int) -> Receipt:
        """A plain ERC-20 transfer, sent and paid for by the payer itself."""
        return await self._send(payer, "transfer", to_checksum_address(payee), amount_base_units)

    async def transfer_with_authorization(
        self, relayer: LocalAccount, signed: SignedMessage[TransferAuthorization]
    ) -> Receipt:
        """Relay an EIP-3009 authorization; the relayer pays the gas, the payer's tokens move."""
        function = f"{signed.message.kind.value[0].lower()}{signed.message.kind.value[1:]}"
        return await self._send(
            relayer, _signature_overload(function), *_authorization_args(signed)
        )

    async def cancel_authorization(
        self, relayer: LocalAccount, signed: SignedMessage[CancelAuthorization]
    ) -> Receipt:
        message = signed.message
        return await self._send(
            relayer,
            "cancelAuthorization(address,bytes32,bytes)",
            to_checksum_address(message.authorizer),
            message.nonce,
            signed.signature,
        )

    async def permit(self, relayer: LocalAccount, signed: SignedMessage[Permit]) -> Receipt:
        message = signed.message
        return await self._send(
            relayer,
            "permit(address,address,uint256,uint256,bytes)",
            to_checksum_address(message.owner),
            to_checksum_address(message.spender),
            message.value_base_units,
            message.deadline,
            signed.signature,
        )

    async def transfer_from(
        self, spender: LocalAccount, owner: str, payee: str, amount_base_units: int
    ) -> Receipt:
        return await self._send(
            spender,
            "transferFrom",
            to_checksum_address(owner),
            to_checksum_address(payee),
            amount_base_units,
        )


def _signature_overload(function: str) -> str:
    """The bytes-signature overload, which also accepts EIP-1271 contract-wallet signatures."""
    return f"{function}(address,address,uint256,uint256,uint256,bytes32,bytes)"


def _authorization_args(signed: SignedMessage[TransferAuthorization]) -> tuple[Any, ...]:
    message = signed.message
    return (
        to_checksum_address(message.payer),
        to_checksum_address(message.payee),
        message.value_base_units,
        message.valid_after,
        message.valid_before,
        message.nonce,
        signed.signature,
    )
