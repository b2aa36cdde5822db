"""The service as an x402 facilitator: ``supported``, ``verify`` and ``settle`` for ``exact``.

A resource server (x402's FastAPI middleware, say) asks ``verify`` before it serves a paid
request and ``settle`` after. Verify runs the ``exact`` checks (``settlement.x402.exact``), the
signature, and what the chain says now: the nonce unused, the balance enough, and everything the
service itself checks before it accepts an authorization (a paused token, a blocklisted party,
what the payer already has queued). Nothing is stored.

Settle submits the payload to the service as an authorization-mode payment. Its idempotency key
is the authorization, so a settle resent after a timeout, or two resource servers settling one
payload, find the payment already accepted and wait for the same transaction: a payer is never
charged twice. The answer is x402's ``SettleResponse``: the transaction once it is mined, or
``settlement_pending`` when it was not mined within ``settle_timeout_s`` (asking again later
answers with the transaction).
"""

from __future__ import annotations

import asyncio
from functools import cached_property

from x402.mechanisms.evm import constants as reasons
from x402.schemas import (
    SettleRequest,
    SettleResponse,
    SupportedKind,
    SupportedResponse,
    VerifyRequest,
    VerifyResponse,
)

from settlement.domain.eip712 import word_address, word_bytes32
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.errors import NotYetValidError, PaymentRejectedError, SignatureError
from settlement.service import SettlementService
from settlement.settlers.acceptance import TokenGate
from settlement.settlers.authorization import AUTHORIZATION_STATE, AuthorizationSettler
from settlement.store import PaymentRecord, SqlPaymentStore
from settlement.x402.exact import (
    X402_VERSION,
    ChainTerms,
    ExactPayment,
    X402RefusalError,
    exact_payment,
)

DEFAULT_SETTLE_TIMEOUT_S = 30.0
SETTLE_POLL_S = 0.1
FINAL_STATES = frozenset({PaymentState.CONFIRMED, PaymentState.FAILED})


class FinalWatch:
    """Waits for payments to be confirmed or failed: however many settles wait, one store read
    per poll (the settler may be another process, so the store is where the news arrives)."""

    def __init__(self, store: SqlPaymentStore, poll_s: float = SETTLE_POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self._waiting: dict[str, list[asyncio.Future[PaymentRecord]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def final(self, payment_id: str, timeout_s: float) -> PaymentRecord | None:
        """The payment once final, or None if it is not within ``timeout_s``."""
        future: asyncio.Future[PaymentRecord] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(payment_id, []).append(future)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll())
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiting.get(payment_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(payment_id, None)

    async def _poll(self) -> None:
        try:
            while self._waiting:
                records = await self.store.records(list(self._waiting))
                for payment_id, record in records.items():
                    if record.state in FINAL_STATES:
                        for future in self._waiting.pop(payment_id, []):
                            if not future.done():
                                future.set_result(record)
                await asyncio.sleep(self.poll_s)
        finally:
            self._poller = None


class Facilitator:
    """x402's facilitator interface over a running ``SettlementService``."""

    def __init__(
        self, service: SettlementService, settle_timeout_s: float = DEFAULT_SETTLE_TIMEOUT_S
    ) -> None:
        self.service = service
        self.settle_timeout_s = settle_timeout_s

    # Made on first use: only the facilitator's routes need them, and an app may be built
    # around a service that is not there yet (the cost-model routes need none).
    @cached_property
    def terms(self) -> ChainTerms:
        service = self.service
        return ChainTerms(service.client.chain_id, service.token.address, service.token.domain)

    @cached_property
    def _watch(self) -> FinalWatch:
        return FinalWatch(self.service.store)

    @cached_property
    def _gate(self) -> TokenGate:
        return TokenGate(self.service.token, self.service.store)

    @cached_property
    def _authorizations(self) -> AuthorizationSettler:
        """Authorization mode's checks, with the chain's state read at acceptance (the service's
        own settler may have been built without it)."""
        token = self.service.token
        return AuthorizationSettler(token.address, token.domain, self._gate)

    @property
    def enabled(self) -> bool:
        """Whether the service settles authorizations, the mode ``exact`` payments take."""
        return SettlementMode.AUTHORIZATION in self.service.settlers

    def supported(self) -> SupportedResponse:
        kinds = [
            SupportedKind(x402_version=X402_VERSION, scheme="exact", network=self.terms.network)
        ]
        return SupportedResponse(
            kinds=kinds if self.enabled else [],
            signers={"eip155:*": [self.service.relayer.address]},
        )

    async def verify(self, request: VerifyRequest) -> VerifyResponse:
        try:
            payment = await self._checked(request)
        except X402RefusalError as refusal:
            return VerifyResponse(
                is_valid=False, invalid_reason=refusal.reason, invalid_message=refusal.message
            )
        return VerifyResponse(is_valid=True, payer=payment.payer)

    async def settle(self, request: SettleRequest) -> SettleResponse:
        network = self.terms.network
        try:
            payment = await self._checked(request, settling=True)
        except X402RefusalError as refusal:
            return SettleResponse(
                success=False,
                error_reason=refusal.reason,
                error_message=refusal.message,
                transaction="",
                network=network,
            )
        (outcome,) = await self.service.submit([payment.submission])
        if outcome.record is None:
            return self._failed(
                payment, reasons.ERR_TRANSACTION_SIMULATION_FAILED, outcome.rejection
            )
        record = await self._final(outcome.payment_id)
        if record.state is PaymentState.FAILED:
            return self._failed(payment, reasons.ERR_TRANSACTION_FAILED, record.failure_reason)
        transaction = await self._transaction(record)
        if record.state is not PaymentState.CONFIRMED:
            return SettleResponse(
                success=False,
                error_reason=reasons.ERR_SETTLEMENT_PENDING,
                error_message=f"accepted as {record.payment_id}; not yet mined: ask again",
                payer=payment.payer,
                transaction=transaction,
                network=network,
            )
        return SettleResponse(
            success=True,
            payer=payment.payer,
            transaction=transaction,
            network=network,
            amount=str(record.amount_base_units),
        )

    async def _checked(
        self, request: VerifyRequest | SettleRequest, settling: bool = False
    ) -> ExactPayment:
        """The payment a request's payload makes, checked against the chain as it is now.

        A payload this service already accepted is judged by the payment it became (see
        ``_already_accepted``), not by the chain: its nonce is spent by this service's own
        transaction, and its window may have closed since.
        """
        if not self.enabled:
            raise X402RefusalError(
                reasons.ERR_UNSUPPORTED_SCHEME, "this service does not settle authorizations"
            )
        payment = exact_payment(request.payment_payload, request.payment_requirements, self.terms)
        accepted = await self.service.store.get(payment.payment_id)
        if accepted is not None:
            return self._already_accepted(payment, accepted, settling)
        now = await self.service.chain_time()
        payment.check_window(now)
        try:
            verified = self._authorizations.verify(payment.submission, now)
        except SignatureError as error:
            raise X402RefusalError(reasons.ERR_INVALID_SIGNATURE, str(error)) from None
        except NotYetValidError as error:
            raise X402RefusalError(reasons.ERR_VALID_AFTER_FUTURE, str(error)) from None
        except PaymentRejectedError as error:  # the window too short to settle in
            raise X402RefusalError(reasons.ERR_VALID_BEFORE_EXPIRED, str(error)) from None
        # What the service checks before it accepts any authorization: the token not paused, no
        # party blocklisted, the nonce unused, the balance covering what the payer has queued.
        refused = await self._authorizations.admit([verified])
        if verified.payment_id in refused:
            raise await self._refusal(payment, refused[verified.payment_id])
        return payment

    @staticmethod
    def _already_accepted(
        payment: ExactPayment, accepted: PaymentRecord, settling: bool
    ) -> ExactPayment:
        """A payload the service holds as a payment. Settling it again answers with the stored
        payment if this is the same payload (and refuses it if it is another under the same
        authorization); verifying it is valid until it is settled or has failed."""
        if settling or accepted.state not in FINAL_STATES:
            return payment
        if accepted.state is PaymentState.CONFIRMED:
            raise X402RefusalError(
                reasons.ERR_NONCE_ALREADY_USED,
                f"the authorization was already settled, as payment {accepted.payment_id}",
            )
        raise X402RefusalError(
            reasons.ERR_TRANSACTION_FAILED, accepted.failure_reason or "settlement failed"
        )

    async def _refusal(self, payment: ExactPayment, reason: str) -> X402RefusalError:
        """x402's name for why acceptance refused the payment: the nonce or the balance when
        those are why, a failed simulation otherwise (the token paused, a party blocklisted)."""
        gate = self._gate
        nonce_state = gate.call(
            AUTHORIZATION_STATE, word_address(payment.payer), word_bytes32(payment.nonce)
        )
        balance_read = gate.balance(payment.payer)
        answers = await gate.ask([nonce_state, balance_read])
        if answers[nonce_state]:
            return X402RefusalError(reasons.ERR_NONCE_ALREADY_USED, reason)
        if answers[balance_read] < payment.submission.intent.amount_base_units:
            return X402RefusalError(reasons.ERR_INSUFFICIENT_BALANCE, reason)
        return X402RefusalError(reasons.ERR_TRANSACTION_SIMULATION_FAILED, reason)

    async def _final(self, payment_id: str) -> PaymentRecord:
        """The payment once confirmed or failed, or as it stands when the wait runs out."""
        final = await self._watch.final(payment_id, self.settle_timeout_s)
        if final is not None:
            return final
        record = await self.service.store.get(payment_id)
        assert record is not None, "an accepted payment is in the store"
        return record

    async def _transaction(self, record: PaymentRecord) -> str:
        if record.submission_id is None:
            return ""
        mined = await self.service.store.mined_submissions([record.submission_id])
        found = mined.get(record.submission_id)
        return found.tx_hash if found else ""

    def _failed(self, payment: ExactPayment, reason: str, message: str | None) -> SettleResponse:
        return SettleResponse(
            success=False,
            error_reason=reason,
            error_message=message,
            payer=payment.payer,
            transaction="",
            network=self.terms.network,
        )
