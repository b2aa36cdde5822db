"""An async EVM client on web3.py: EIP-1559 fees, local signing, nonces, receipts, reverts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import Nonce, RPCEndpoint, RPCResponse, TxParams, TxReceipt, Wei

from settlement.chain.reverts import RevertDecoder
from settlement.errors import (
    ChainError,
    ChainUnavailableError,
    TransactionRevertedError,
    TransactionTimeoutError,
)
from settlement.redaction import public_rpc_url

# Gas estimates are exact for the state they ran against; a margin covers state that changes
# between estimate and inclusion (a storage slot turning from zero to non-zero, for example).
GAS_ESTIMATE_MARGIN_PERCENT = 20
RECEIPT_POLL_INTERVAL_S = 0.01
CONNECT_TIMEOUT_S = 10.0
# Calls per JSON-RPC batch request: large enough to amortize HTTP, small enough for node limits.
RPC_BATCH_SIZE = 500
# Connections kept open to the node: acceptance, settlement and status reads run side by side.
NODE_CONNECTIONS = 16
EMPTY_CALLDATA = HexStr("0x")


# What a broken connection to the node raises, under web3's own errors.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class _Provider(AsyncHTTPProvider):
    """web3's HTTP provider, with a lost connection raised as ``ChainUnavailableError``.

    aiohttp's own errors (a server that disconnected, a refused connection) would otherwise
    reach the service's callers raw: an API answering 500 where the chain is only unreachable
    for a moment, and a caller that cannot tell "retry" from "bug".
    """

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return await super().make_request(method, params)
        except TRANSPORT_ERRORS as error:
            raise _unavailable(self.endpoint_uri, error) from error


def _unavailable(endpoint: str | None, error: BaseException) -> ChainUnavailableError:
    where = public_rpc_url(str(endpoint)) if endpoint else "the chain"
    return ChainUnavailableError(
        f"lost the connection to {where}: {type(error).__name__} {error}".strip()
    )


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps for the next transactions."""

    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int


@dataclass(frozen=True)
class Receipt:
    """What settlement needs from a mined transaction."""

    tx_hash: str
    block_number: int
    gas_used: int
    effective_gas_price_wei: int
    raw: TxReceipt

    @property
    def fee_wei(self) -> int:
        return self.gas_used * self.effective_gas_price_wei


class NonceAllocator:
    """Hands out consecutive nonces per sender, correct under concurrent asyncio tasks.

    The first nonce comes from the chain's pending count; later ones are counted locally, so
    concurrent sends from one account never reuse a nonce. ``forget`` drops the local count after a
    failure so the next send asks the chain again.
    """

    def __init__(self, fetch_pending_count: Callable[[ChecksumAddress], Awaitable[int]]) -> None:
        self._fetch = fetch_pending_count
        self._next: dict[ChecksumAddress, int] = {}
        self._lock = asyncio.Lock()

    async def allocate(self, sender: ChecksumAddress) -> int:
        async with self._lock:
            if sender not in self._next:
                self._next[sender] = await self._fetch(sender)
            nonce = self._next[sender]
            self._next[sender] = nonce + 1
            return nonce

    def forget(self, sender: ChecksumAddress) -> None:
        self._next.pop(sender, None)


class ChainClient:
    """One connection to an EVM JSON-RPC endpoint, signing locally with eth-account keys."""

    def __init__(
        self,
        w3: AsyncWeb3[AsyncHTTPProvider],
        chain_id: int,
        receipt_timeout_s: float,
        session: aiohttp.ClientSession,
    ):
        self.w3 = w3
        self.chain_id = chain_id
        self.receipt_timeout_s = receipt_timeout_s
        self.nonces = NonceAllocator(self._pending_transaction_count)
        # The provider's own keep-alive session, which ``batch_request`` posts through directly.
        self._session = session
        self._rpc_url = str(w3.provider.endpoint_uri)
        self._timeout = aiohttp.ClientTimeout(total=CONNECT_TIMEOUT_S)

    @classmethod
    async def connect(cls, rpc_url: str, *, receipt_timeout_s: float = 120.0) -> ChainClient:
        """Connect and read the chain id; a clear error when the endpoint does not answer."""
        provider: AsyncHTTPProvider = _Provider(
            rpc_url, request_kwargs={"timeout": CONNECT_TIMEOUT_S}
        )
        # web3's own session opens a TCP connection per call (force_close); acceptance asks the
        # node something on every pass, and the connect cost more than the answer.
        session = aiohttp.ClientSession(
            raise_for_status=True,
            connector=aiohttp.TCPConnector(limit=NODE_CONNECTIONS, keepalive_timeout=30),
        )
        await provider.cache_async_session(session)
        w3 = AsyncWeb3(provider)
        try:
            chain_id = await w3.eth.chain_id
        except (ChainUnavailableError, Web3RPCError) as error:
            await provider.disconnect()
            raise ChainUnavailableError(
                f"no answer from {public_rpc_url(rpc_url)}: {error}"
            ) from None
        return cls(w3, chain_id, receipt_timeout_s, session)

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    async def __aenter__(self) -> ChainClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def fees(self) -> Fees:
        """Fee caps that survive the base fee doubling twice before inclusion."""
        latest = await self.w3.eth.get_block("latest")
        base_fee = int(latest.get("baseFeePerGas", 0))
        tip = int(await self.w3.eth.max_priority_fee)
        return Fees(max_fee_per_gas_wei=2 * base_fee + tip, max_priority_fee_per_gas_wei=tip)

    async def batch_request(
        self, requests: Sequence[tuple[str, list[Any]]]
    ) -> list[dict[str, Any]]:
        """JSON-RPC calls sent as batches of ``RPC_BATCH_SIZE``; raw responses, errors included.

        Unlike web3's batching, an error answer for one call does not hide the others' results:
        the caller reads ``result`` or ``error`` per response. The batch is encoded here rather
        than by web3, whose generic encoder took a tenth of acceptance's CPU.
        """
        responses: list[dict[str, Any]] = []
        for start in range(0, len(requests), RPC_BATCH_SIZE):
            chunk = requests[start : start + RPC_BATCH_SIZE]
            payload = [
                {"jsonrpc": "2.0", "id": index, "method": method, "params": params}
                for index, (method, params) in enumerate(chunk)
            ]
            answered = await self._post(json.dumps(payload, separators=(",", ":")))
            if not isinstance(answered, list) or len(answered) != len(chunk):
                raise ChainError(
                    f"a batch of {len(chunk)} calls was answered with {answered!r:.200}"
                )
            # A node may answer a batch in any order; the ids say which answer is which.
            by_id = {answer.get("id"): answer for answer in answered}
            responses.extend(by_id[index] for index in range(len(chunk)))
        return responses

    async def _post(self, body: str) -> Any:
        try:
            async with self._session.post(
                self._rpc_url,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                text = await response.read()
        except TRANSPORT_ERRORS as error:
            raise _unavailable(self._rpc_url, error) from error
        try:
            return json.loads(text)
        except ValueError:
            raise ChainError(
                f"the node answered a batch with something not JSON: {text!r:.200}"
            ) from None

    async def latest_block_timestamp(self) -> int:
        """The chain's notion of now, which validity windows are checked against."""
        return int((await self.w3.eth.get_block("latest"))["timestamp"])

    async def balance_wei(self, address: ChecksumAddress) -> int:
        return int(await self.w3.eth.get_balance(address))

    async def call(self, to: ChecksumAddress, data: HexStr, decoder: RevertDecoder) -> bytes:
        """An ``eth_call``; a revert raises ``ContractRevertedError`` with the decoded reason."""
        try:
            return bytes(await self.w3.eth.call({"to": to, "data": data}))
        except (ContractLogicError, Web3RPCError) as error:
            raise decoder.decode(_revert_data(error)) from None

    async def send_transaction(
        self,
        sender: LocalAccount,
        *,
        to: ChecksumAddress | None,
        data: HexStr = EMPTY_CALLDATA,
        value_wei: int = 0,
        gas: int | None = None,
        decoder: RevertDecoder | None = None,
    ) -> Receipt:
        """Sign and send an EIP-1559 transaction, wait for its receipt, and check its status.

        Without ``gas`` the node estimates it first, so a transaction that would revert is never
        sent and raises ``ContractRevertedError`` with the decoded reason instead.
        """
        params = await self._transaction_params(
            sender, to=to, data=data, value_wei=value_wei, gas=gas, decoder=decoder
        )
        signed = sender.sign_transaction(cast(dict[str, Any], params))
        try:
            tx_hash = await self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except (Web3RPCError, ValueError):
            self.nonces.forget(sender.address)
            raise
        return await self.wait_for_receipt(HexBytes(tx_hash))

    async def wait_for_receipt(self, tx_hash: HexBytes) -> Receipt:
        """Wait for a receipt; a reverted transaction raises ``TransactionRevertedError``."""
        try:
            raw = await self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout_s, poll_latency=RECEIPT_POLL_INTERVAL_S
            )
        except TimeExhausted:
            raise TransactionTimeoutError(
                f"no receipt for {tx_hash.to_0x_hex()} within {self.receipt_timeout_s:.0f} s"
            ) from None
        receipt = Receipt(
            tx_hash=tx_hash.to_0x_hex(),
            block_number=raw["blockNumber"],
            gas_used=raw["gasUsed"],
            effective_gas_price_wei=raw["effectiveGasPrice"],
            raw=raw,
        )
        if raw["status"] != 1:
            raise TransactionRevertedError(receipt.tx_hash, receipt.gas_used)
        return receipt

    async def _transaction_params(
        self,
        sender: LocalAccount,
        *,
        to: ChecksumAddress | None,
        data: HexStr,
        value_wei: int,
        gas: int | None,
        decoder: RevertDecoder | None,
    ) -> TxParams:
        params: TxParams = {"from": sender.address, "data": data, "value": Wei(value_wei)}
        if to is not None:
            params["to"] = to
        if gas is None:
            estimate = await self._estimate(params, decoder)
            gas = estimate + estimate * GAS_ESTIMATE_MARGIN_PERCENT // 100
        fees = await self.fees()
        params.update(
            {
                "type": 2,
                "chainId": self.chain_id,
                "gas": gas,
                "maxFeePerGas": Wei(fees.max_fee_per_gas_wei),
                "maxPriorityFeePerGas": Wei(fees.max_priority_fee_per_gas_wei),
                "nonce": Nonce(await self.nonces.allocate(sender.address)),
            }
        )
        return params

    async def estimate_gas(
        self,
        sender: ChecksumAddress,
        to: ChecksumAddress,
        data: HexStr,
        decoder: RevertDecoder | None = None,
    ) -> int:
        """The node's gas estimate; a call that would revert raises ``ContractRevertedError``."""
        return await self._estimate({"from": sender, "to": to, "data": data}, decoder)

    async def _estimate(self, params: TxParams, decoder: RevertDecoder | None) -> int:
        try:
            return int(await self.w3.eth.estimate_gas(params))
        except (ContractLogicError, Web3RPCError) as error:
            raise (decoder or RevertDecoder()).decode(_revert_data(error)) from None

    async def _pending_transaction_count(self, address: ChecksumAddress) -> int:
        return int(await self.w3.eth.get_transaction_count(address, "pending"))


def _revert_data(error: ContractLogicError | Web3RPCError) -> bytes:
    """The raw revert bytes a node attached to an error, or nothing if it attached none."""
    data: object = getattr(error, "data", None)
    if data is None and isinstance(error, Web3RPCError) and error.rpc_response:
        data = error.rpc_response.get("error", {}).get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""
