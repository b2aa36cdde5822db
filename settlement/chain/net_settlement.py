"""The deployed NetSettlement contract, seen from Python: deposits, windows, inclusion proofs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient, Receipt
from settlement.chain.contract import ContractAdapter, deploy_contract
from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import SignedMessage, TransferAuthorization

NET_SETTLEMENT_ARTIFACT = "NetSettlement"
# The contract never checks payment signatures (the operator does, off-chain), so this domain
# exists only in the signed messages: it binds a NetPayment to one deployment on one chain.
NET_PAYMENT_DOMAIN_NAME = "Robot Net Settlement"
NET_PAYMENT_DOMAIN_VERSION = "1"
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
DEFAULT_WITHDRAWAL_DELAY_S = 3_600
SETTLE_WINDOW_SIGNATURE = "settleWindow(uint64,bytes32,uint32,bytes32[])"
# A window's changes are packed one word per account (INetSettlement): the account in the high
# 160 bits, a debit flag in bit 95, the magnitude of the change in the low 95 bits.
MAX_DELTA = 2**95 - 1
_DEBIT_FLAG = 1 << 95
_ACCOUNT_SHIFT = 96


def pack_window_changes(accounts: Sequence[str], deltas: Sequence[int]) -> list[bytes]:
    """``settleWindow``'s changes: one 32-byte word per account, in the order given (which must
    be ascending for the contract to accept it)."""
    assert len(accounts) == len(deltas), "one delta per account"
    words = []
    for account, delta in zip(accounts, deltas, strict=True):
        magnitude = abs(delta)
        assert magnitude <= MAX_DELTA, f"a change of {delta} does not fit 95 bits"
        word = (int(account, 16) << _ACCOUNT_SHIFT) | magnitude
        if delta < 0:
            word |= _DEBIT_FLAG
        words.append(word.to_bytes(32, "big"))
    return words


def unpack_window_changes(words: Sequence[bytes]) -> tuple[list[str], list[int]]:
    """The accounts and signed deltas packed in ``words`` (the inverse of
    ``pack_window_changes``): what an auditor reads back from a window's calldata."""
    accounts: list[str] = []
    deltas: list[int] = []
    for word in words:
        value = int.from_bytes(word, "big")
        magnitude = value & MAX_DELTA
        accounts.append(to_checksum_address((value >> _ACCOUNT_SHIFT).to_bytes(20, "big")))
        deltas.append(-magnitude if value & _DEBIT_FLAG else magnitude)
    return accounts, deltas


class NetSettlementContract(ContractAdapter):
    """Calls and transactions on one deployed NetSettlement."""

    @cached_property
    def payment_domain(self) -> Eip712Domain:
        return self.eip712_domain(NET_PAYMENT_DOMAIN_NAME, NET_PAYMENT_DOMAIN_VERSION)

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
        address, _ = await deploy_contract(
            client, artifact, admin, to_checksum_address(token), admin.address, withdrawal_delay_s
        )
        contract = cls(client, artifact, address, *([token_abi] if token_abi else []))
        await contract._send(admin, "grantRole", OPERATOR_ROLE, admin.address)
        return contract

    async def deposit(
        self, relayer: LocalAccount, signed: SignedMessage[TransferAuthorization]
    ) -> Receipt:
        """Relay an account's ReceiveWithAuthorization (to this contract) as its deposit."""
        return await self.client.send_transaction(
            relayer, to=self.address, data=self.deposit_call(signed), decoder=self.decoder
        )

    def deposit_call(self, signed: SignedMessage[TransferAuthorization]) -> HexStr:
        """The calldata of ``deposit``: the account's ReceiveWithAuthorization to this contract."""
        message = signed.message
        assert message.payee == self.address, "a deposit authorization pays this contract"
        return self.encode(
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
            pack_window_changes(accounts, deltas),
        )

    async def open_accounts(self, sender: LocalAccount, accounts: Sequence[str]) -> Receipt:
        """Open accounts ahead of their first credit (anyone may pay for it)."""
        return await self._send(
            sender, "openAccounts", [to_checksum_address(account) for account in accounts]
        )

    async def is_open(self, account: str) -> bool:
        raw = await self._read("isOpen", to_checksum_address(account))
        return bool(decode(["bool"], raw)[0])

    async def balance_of(self, account: str) -> int:
        return await self._read_uint("balanceOf", to_checksum_address(account))

    async def balances(self, accounts: Sequence[str]) -> dict[str, int]:
        """Several accounts' deposits, read in one batch of calls at the latest block."""
        raw = await self._read_many("balanceOf", [(account,) for account in accounts])
        return {
            account: int.from_bytes(word, "big")
            for account, word in zip(accounts, raw, strict=True)
        }

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
