"""The deployed PaymentChannels contract, seen from Python: open, top up, read a channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi.abi import decode, encode
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.address import to_checksum_address

from settlement.chain.artifacts import ContractArtifact
from settlement.chain.client import ChainClient, Receipt
from settlement.chain.contract import ContractAdapter, deploy_contract
from settlement.domain.eip712 import Eip712Domain, keccak256
from settlement.domain.messages import SignedMessage, TransferAuthorization

PAYMENT_CHANNELS_ARTIFACT = "PaymentChannels"
VOUCHER_DOMAIN_NAME = "Robot Payment Channels"
VOUCHER_DOMAIN_VERSION = "1"
# Long enough for a payee that is briefly offline to claim; short enough to free a robot's funds
# the same day if its payee disappears.
DEFAULT_CHALLENGE_PERIOD_S = 3_600
ZERO_ADDRESS = "0x" + "00" * 20
WITHDRAWAL_REQUESTED_TOPIC = keccak256(b"WithdrawalRequested(bytes32,uint64)")


def channel_id_of(payer: str, payee: str, salt: bytes) -> bytes:
    """The channel id the contract derives, which is also the nonce of its opening deposit."""
    return keccak256(encode(["address", "address", "bytes32"], [payer, payee, salt]))


def top_up_nonce_of(channel_id: bytes, top_up_salt: bytes) -> bytes:
    return keccak256(encode(["bytes32", "bytes32"], [channel_id, top_up_salt]))


@dataclass(frozen=True)
class ChannelState:
    """A channel as the contract holds it; ``payer`` is None for an unknown (or closed) one."""

    channel_id: bytes
    payer: str | None
    payee: str | None
    deposit_base_units: int
    claimed_base_units: int
    withdrawable_at: int

    @property
    def exists(self) -> bool:
        return self.payer is not None


class PaymentChannelsContract(ContractAdapter):
    """Calls and transactions on one deployed PaymentChannels."""

    @cached_property
    def voucher_domain(self) -> Eip712Domain:
        return self.eip712_domain(VOUCHER_DOMAIN_NAME, VOUCHER_DOMAIN_VERSION)

    @classmethod
    async def deploy(
        cls,
        client: ChainClient,
        artifact: ContractArtifact,
        deployer: LocalAccount,
        token: str,
        challenge_period_s: int = DEFAULT_CHALLENGE_PERIOD_S,
        token_abi: list[dict[str, Any]] | None = None,
    ) -> PaymentChannelsContract:
        address, _ = await deploy_contract(
            client, artifact, deployer, to_checksum_address(token), challenge_period_s
        )
        return cls(client, artifact, address, *([token_abi] if token_abi else []))

    def open_call(
        self, payee: str, salt: bytes, signed: SignedMessage[TransferAuthorization]
    ) -> HexStr:
        """The calldata relaying the payer's ReceiveWithAuthorization (nonce = channel id) that
        funds a channel."""
        message = signed.message
        return self.encode(
            "open",
            to_checksum_address(message.payer),
            to_checksum_address(payee),
            salt,
            message.value_base_units,
            message.valid_after,
            message.valid_before,
            signed.signature,
        )

    def top_up_call(
        self, channel_id: bytes, top_up_salt: bytes, signed: SignedMessage[TransferAuthorization]
    ) -> HexStr:
        message = signed.message
        return self.encode(
            "topUp",
            channel_id,
            top_up_salt,
            message.value_base_units,
            message.valid_after,
            message.valid_before,
            signed.signature,
        )

    async def request_withdrawal(self, payer: LocalAccount, channel_id: bytes) -> Receipt:
        """The payer starts the timed withdrawal of its channel (``withdrawableAt`` after the
        challenge period)."""
        return await self._send(payer, "requestWithdrawal", channel_id)

    async def withdraw(self, payer: LocalAccount, channel_id: bytes) -> Receipt:
        return await self._send(payer, "withdraw", channel_id)

    async def withdrawal_requests(self, from_block: int, to_block: int) -> dict[bytes, int]:
        """Channel id -> ``withdrawableAt`` of the withdrawals requested in these blocks."""
        logs = await self.client.w3.eth.get_logs(
            {
                "address": self.address,
                "topics": [HexStr("0x" + WITHDRAWAL_REQUESTED_TOPIC.hex())],
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )
        return {bytes(log["topics"][1]): int.from_bytes(log["data"], "big") for log in logs}

    async def channel(self, channel_id: bytes) -> ChannelState:
        return _channel_state(channel_id, await self._read("channel", channel_id))

    async def channels(self, channel_ids: Sequence[bytes]) -> list[ChannelState]:
        """Several channels, read in one batch of calls at the latest block."""
        raw = await self._read_many("channel", [(channel_id,) for channel_id in channel_ids])
        return [_channel_state(i, word) for i, word in zip(channel_ids, raw, strict=True)]


def _channel_state(channel_id: bytes, raw: bytes) -> ChannelState:
    payer, payee, deposit, claimed, withdrawable_at = decode(
        ["address", "address", "uint256", "uint256", "uint64"], raw
    )
    known = payer != ZERO_ADDRESS
    return ChannelState(
        channel_id=channel_id,
        payer=to_checksum_address(payer) if known else None,
        payee=to_checksum_address(payee) if known else None,
        deposit_base_units=int(deposit),
        claimed_base_units=int(claimed),
        withdrawable_at=int(withdrawable_at),
    )
