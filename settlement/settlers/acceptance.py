"""Acceptance checks against the token's state on chain, for the modes that move tokens directly.

``verify`` proves a payment is well formed and signed; it cannot know whether the chain would
still take it. Without these checks a payment from a blocklisted payer, against a paused token,
beyond the payer's balance or spending a nonce already used on chain was accepted and then failed
at settlement, or (a direct transaction with a spent nonce) waited for a receipt that never came.
``TokenGate`` asks the chain everything a group of payments needs in one JSON-RPC batch and
refuses those the chain would refuse now, each with its reason. State that changes after
acceptance (a payer drained, the token paused later) still fails the payment at settlement.

A payment already stored is left to the store, which answers a retry with the first result and a
reused key with a conflict: a retried payment whose nonce its own settlement has since spent must
not be refused here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.abi import function_signature_to_4byte_selector

from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.eip712 import word_address
from settlement.domain.payments import PaymentState, SettlementMode
from settlement.errors import ChainError
from settlement.store import NewPayment, SqlPaymentStore

# Payments in these modes all draw on the payer's token balance, so each one's queued payments
# count against what the payer can still pay in the others.
TOKEN_MODES = (SettlementMode.DIRECT, SettlementMode.AUTHORIZATION, SettlementMode.BATCH)
PAUSED = function_signature_to_4byte_selector("paused()")
IS_BLOCKLISTED = function_signature_to_4byte_selector("isBlocklisted(address)")
BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")


@dataclass(frozen=True)
class ChainQuestion:
    """One JSON-RPC read; equal questions are asked once per batch.

    ``params`` holds only strings and numbers, so a question hashes cheaply; an ``eth_call`` keeps
    its target, calldata and block there and becomes the node's call object in ``request``.
    """

    method: str
    params: tuple[str | int, ...]

    @classmethod
    def of(cls, method: str, params: Sequence[str | int]) -> ChainQuestion:
        return cls(method, tuple(params))

    @classmethod
    def eth_call(cls, to: str, data: str) -> ChainQuestion:
        return cls("eth_call", (to, data, "latest"))

    def request(self) -> tuple[str, list[Any]]:
        if self.method == "eth_call":
            to, data, block = self.params
            return self.method, [{"to": to, "data": data}, block]
        return self.method, list(self.params)


class Answers:
    """The chain's answers to one batch of questions, read as integers."""

    def __init__(self, answers: dict[ChainQuestion, int]) -> None:
        self._answers = answers

    def __getitem__(self, question: ChainQuestion) -> int:
        return self._answers[question]


# What a mode asks of the chain for one payment, and how it reads the answers: a reason to
# refuse the payment, or None.
Questions = Callable[[NewPayment], list[ChainQuestion]]
Judge = Callable[[NewPayment, Answers], str | None]


async def new_payments(store: SqlPaymentStore, verified: Sequence[NewPayment]) -> list[NewPayment]:
    """Each payment not stored yet, once (a copy later in the request is a retry of the first)."""
    stored = await store.records([payment.payment_id for payment in verified])
    fresh: dict[str, NewPayment] = {}
    for payment in verified:
        if payment.payment_id not in stored:
            fresh.setdefault(payment.payment_id, payment)
    return list(fresh.values())


def shortfall(holding: str, payer: str, amount: int, balance: int, committed: int) -> str:
    return (
        f"insufficient {holding}: {payer} holds {balance}, has {committed} committed to "
        f"payments not yet settled, and cannot also pay {amount}"
    )


def uncovered(
    holding: str, payer: str, amount: int, balance: int, committed: dict[str, int]
) -> str | None:
    """Why ``payer``'s ``balance`` cannot cover ``amount`` beside what it has ``committed``, or
    None; an admitted amount is counted against the rest of the request."""
    owed = committed.get(payer, 0)
    if owed + amount > balance:
        return shortfall(holding, payer, amount, balance, owed)
    committed[payer] = owed + amount
    return None


class TokenGate:
    """Refuses, at acceptance, token payments the chain would refuse now."""

    def __init__(self, token: StablecoinContract, store: SqlPaymentStore) -> None:
        self.token = token
        self.store = store

    def call(self, selector: bytes, *arguments: bytes) -> ChainQuestion:
        """An ``eth_call`` of the token at the latest block; ``arguments`` are ABI words, encoded
        by hand (``settlement.domain.eip712``) since eth-abi took a tenth of acceptance's CPU."""
        return ChainQuestion.eth_call(
            self.token.address, "0x" + (selector + b"".join(arguments)).hex()
        )

    async def refusals(
        self, verified: Sequence[NewPayment], questions: Questions, judge: Judge
    ) -> dict[str, str]:
        """Payment id -> reason, for each new payment the token's state refuses now.

        One batch of reads for the whole group: the token's pause, every payer's and payee's
        blocklisting, every payer's balance and what ``questions`` asks per payment.
        """
        fresh = await new_payments(self.store, verified)
        if not fresh:
            return {}
        payers = sorted({payment.intent.payer for payment in fresh})
        accounts = sorted({a for p in fresh for a in (p.intent.payer, p.intent.payee)})
        answers = await self.ask(
            [self._paused()]
            + [self._blocklisted(account) for account in accounts]
            + [self.balance(payer) for payer in payers]
            + [question for payment in fresh for question in questions(payment)]
        )
        committed = await self._committed(payers)
        refused: dict[str, str] = {}
        for payment in fresh:
            reason = self._standing(payment, answers) or judge(payment, answers)
            reason = reason or uncovered(
                "balance",
                payment.intent.payer,
                payment.intent.amount_base_units,
                answers[self.balance(payment.intent.payer)],
                committed,
            )
            if reason is not None:
                refused[payment.payment_id] = reason
        return refused

    async def blocklisted(self, accounts: Sequence[str]) -> set[str]:
        """Which of ``accounts`` the token blocklists now, in one batch request."""
        unique = sorted(set(accounts))
        answers = await self.ask([self._blocklisted(account) for account in unique])
        return {account for account in unique if answers[self._blocklisted(account)]}

    async def refuse_spent_nonces(
        self,
        verified: Sequence[NewPayment],
        nonce_spent: Callable[[NewPayment], ChainQuestion],
        nonce_kind: str,
    ) -> dict[str, str]:
        """``refusals`` for a mode whose one question per payment is whether the token has
        already used or cancelled the payment's nonce (an answer other than zero)."""

        def judge(payment: NewPayment, answers: Answers) -> str | None:
            if not answers[nonce_spent(payment)]:
                return None
            return (
                f"{nonce_kind} {payment.instrument['nonce']} of {payment.intent.payer} "
                "is already used or cancelled on chain"
            )

        return await self.refusals(verified, lambda payment: [nonce_spent(payment)], judge)

    def _standing(self, payment: NewPayment, answers: Answers) -> str | None:
        """Why no transfer of this payment could move now: a paused token, a blocked party."""
        if answers[self._paused()]:
            return "the token is paused: no transfer can settle until it is unpaused"
        for role in ("payer", "payee"):
            account = getattr(payment.intent, role)
            if answers[self._blocklisted(account)]:
                return f"the {role} {account} is blocklisted by the token"
        return None

    async def _committed(self, payers: Sequence[str]) -> dict[str, int]:
        """What each payer has queued, not yet sent, in every token mode.

        Submitted payments are left out: the balance read at the latest block already lacks
        those whose transaction is mined but not yet recorded, and counting them as well would
        refuse a payer who can pay. The price is that a payer can commit what its in-flight
        payments will take; such a payment fails at settlement, with the reason.
        """
        return await self.store.pending_outgoing_by_payer(
            payers, TOKEN_MODES, [PaymentState.QUEUED]
        )

    async def ask(self, questions: list[ChainQuestion]) -> Answers:
        """The chain's answers to ``questions``, in one batch request."""
        unique = list(dict.fromkeys(questions))
        responses = await self.token.client.batch_request([q.request() for q in unique])
        answers: dict[ChainQuestion, int] = {}
        for question, response in zip(unique, responses, strict=True):
            if "result" not in response:
                raise ChainError(f"{question.method} failed: {response.get('error')}")
            result: str = response["result"]
            answers[question] = int(result.removeprefix("0x") or "0", 16)
        return Answers(answers)

    def _paused(self) -> ChainQuestion:
        return self.call(PAUSED)

    def _blocklisted(self, account: str) -> ChainQuestion:
        return self.call(IS_BLOCKLISTED, word_address(account))

    def balance(self, account: str) -> ChainQuestion:
        return self.call(BALANCE_OF, word_address(account))
