"""A client of a running settlement service over HTTP, for fleets and tools.

Every request goes through one bounded pool: at most ``concurrency`` are in flight at once. A
request the service may not have seen, or could not finish, is sent again unchanged after a
growing pause: connection failures, timeouts, 429 (queue full; its Retry-After is honoured), 502,
503 and 504. Payment submissions are safe to resend because each payment carries its idempotency
key: the service answers a repeat with the first result, so nothing settles twice. Any other
answer outside 2xx is the service's verdict and raises ``ServiceRequestError`` with its reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from settlement.api.models import (
    BalanceOut,
    ChannelOut,
    FaucetOut,
    LedgerAccountOut,
    NetAccountOut,
    PaymentBatchOut,
    PaymentLookupOut,
    StatsOut,
    TermsOut,
    TransactionOut,
)
from settlement.errors import SettlementError

DEFAULT_CONCURRENCY = 8
DEFAULT_ATTEMPTS = 6
DEFAULT_TIMEOUT_S = 60.0
FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 8.0
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


class ServiceRequestError(SettlementError):
    """The service refused a request (4xx or 5xx), or could not be reached in every attempt."""


class SettlementClient:
    """``async with SettlementClient(url) as client: ...``; ``api_key`` for operator routes."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        attempts: int = DEFAULT_ATTEMPTS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert concurrency >= 1, concurrency
        assert attempts >= 1, attempts
        headers = {"X-API-Key": api_key} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.has_operator_key = bool(api_key)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=concurrency),
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._attempts = attempts
        self.retries = 0  # requests sent again, over the client's life

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ routes

    async def terms(self) -> TermsOut:
        return TermsOut.model_validate(await self._call("GET", "/v1/terms"))

    async def stats(self) -> StatsOut:
        return StatsOut.model_validate(await self._call("GET", "/v1/stats"))

    async def balance(self, address: str) -> BalanceOut:
        return BalanceOut.model_validate(await self._call("GET", f"/v1/balances/{address}"))

    async def transaction(self, tx_hash: str) -> TransactionOut:
        return TransactionOut.model_validate(await self._call("GET", f"/v1/transactions/{tx_hash}"))

    async def faucet(self, grants: Sequence[dict[str, Any]]) -> FaucetOut:
        return FaucetOut.model_validate(
            await self._call("POST", "/v1/faucet", {"grants": list(grants)})
        )

    async def ledger_deposit(self, address: str, amount: int, reference: str) -> LedgerAccountOut:
        body = {"address": address, "amount_base_units": amount, "reference": reference}
        return LedgerAccountOut.model_validate(
            await self._call("POST", "/v1/ledger/deposits", body)
        )

    async def open_channel(self, body: dict[str, Any]) -> ChannelOut:
        return ChannelOut.model_validate(await self._call("POST", "/v1/channels", body))

    async def net_deposit(self, body: dict[str, Any]) -> NetAccountOut:
        return NetAccountOut.model_validate(await self._call("POST", "/v1/net/deposits", body))

    async def submit_payments(self, payments: Sequence[dict[str, Any]]) -> PaymentBatchOut:
        return PaymentBatchOut.model_validate(
            await self._call("POST", "/v1/payments/batch", {"payments": list(payments)})
        )

    async def lookup_payments(self, payment_ids: Sequence[str]) -> PaymentLookupOut:
        return PaymentLookupOut.model_validate(
            await self._call("POST", "/v1/payments/lookup", {"payment_ids": list(payment_ids)})
        )

    # ------------------------------------------------------------ transport

    async def _call(self, method: str, path: str, body: object | None = None) -> Any:
        async with self._slots:
            response = await self._send_with_retries(method, path, body)
        if response.is_success:
            return response.json()
        raise ServiceRequestError(f"{method} {path}: {response.status_code} {_reason(response)}")

    async def _send_with_retries(
        self, method: str, path: str, body: object | None
    ) -> httpx.Response:
        pause = FIRST_BACKOFF_S
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                response = await self._http.request(method, path, json=body)
            except httpx.TransportError as error:
                if last:
                    raise ServiceRequestError(
                        f"{method} {self.base_url}{path}: no answer after {attempt} attempts "
                        f"({type(error).__name__}: {error or 'no detail'})"
                    ) from None
            else:
                if response.status_code not in RETRIED_STATUSES or last:
                    return response
                pause = max(pause, _retry_after_s(response))
            self.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_BACKOFF_S)
        raise AssertionError("the last attempt returns or raises")


def _reason(response: httpx.Response) -> str:
    """The service's ``detail``, or the start of the body when it is not the API's error shape."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, str):
        return detail
    if detail is not None:  # FastAPI's validation errors: a list of {loc, msg}
        return str(detail)[:300]
    return response.text[:300] or response.reason_phrase


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), MAX_BACKOFF_S)
    except ValueError:
        return 0.0
