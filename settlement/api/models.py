"""Request and response bodies. Every input field is bounded; outputs are separate models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from settlement.domain.payments import (
    MAX_PAYMENT_BASE_UNITS,
    PaymentState,
    Purpose,
    SettlementMode,
)

MAX_PAYMENTS_PER_REQUEST = 1_000
UINT64_MAX = 2**64 - 1
UINT96_MAX = 2**96 - 1
UINT256_MAX = 2**256 - 1

Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Hex32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
Signature = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]
# Integers in bodies are strict: money, times and nonces must be JSON integers, so a string, a
# float such as 10.0 or a boolean (which lax parsing would read as 1) is refused, not converted.
UnixTime = Annotated[int, Field(strict=True, ge=0, le=UINT64_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A type-2 transfer transaction is about 180 bytes; this leaves room and bounds the body.
MAX_RAW_TRANSACTION_BYTES = 1_024
RawTransaction = Annotated[
    str, StringConstraints(pattern=rf"^0x[0-9a-fA-F]{{2,{2 * MAX_RAW_TRANSACTION_BYTES}}}$")
]


class DirectInstrument(_Strict):
    """The payer's own signed EIP-1559 ``transfer(payee, amount)`` on the token, relayed as is."""

    mode: Literal["direct"]
    raw_transaction: RawTransaction


class AuthorizationInstrument(_Strict):
    """An EIP-3009 ``TransferWithAuthorization`` signed by the payer."""

    mode: Literal["authorization"]
    valid_after: UnixTime
    valid_before: UnixTime
    nonce: Hex32
    signature: Signature


class BatchInstrument(_Strict):
    """A ``BatchPayment`` signed by the payer, with a bitmap nonce (word << 8 | bit)."""

    mode: Literal["batch"]
    nonce: Annotated[int, Field(strict=True, ge=0, le=UINT256_MAX)]
    valid_before: UnixTime
    signature: Signature


class ChannelInstrument(_Strict):
    """A ``Voucher`` for the channel's new cumulative total: the last one accepted plus this
    payment's amount, within the deposit."""

    mode: Literal["channel"]
    channel_id: Hex32
    cumulative_amount: Annotated[int, Field(strict=True, ge=1, le=UINT96_MAX)]
    signature: Signature


class NetInstrument(_Strict):
    """A ``NetPayment`` over this payment's id, signed under the net-settlement domain."""

    mode: Literal["net"]
    valid_before: UnixTime
    signature: Signature


class LedgerInstrument(_Strict):
    """The same ``NetPayment`` fields signed under the ledger's domain (the baseline mode)."""

    mode: Literal["ledger"]
    valid_before: UnixTime
    signature: Signature


Instrument = Annotated[
    DirectInstrument
    | AuthorizationInstrument
    | BatchInstrument
    | ChannelInstrument
    | NetInstrument
    | LedgerInstrument,
    Field(discriminator="mode"),
]


class PaymentIn(_Strict):
    """One payment: who pays whom, how much, and the signed instrument that authorizes it."""

    idempotency_key: IdempotencyKey = Field(
        description="Unique per payer; a retry with the same key returns the first result."
    )
    payer: Address
    payee: Address
    amount_base_units: Annotated[int, Field(strict=True, ge=1, le=MAX_PAYMENT_BASE_UNITS)] = Field(
        description="Amount in base units (6 decimals: 1,000 is $0.001)."
    )
    purpose: Purpose = Purpose.OTHER
    instrument: Instrument

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "idempotency_key": "robot-17:energy:000042",
                    "payer": "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
                    "payee": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF",
                    "amount_base_units": 1500,
                    "purpose": "energy",
                    "instrument": {
                        "mode": "batch",
                        "nonce": 42,
                        "valid_before": 1900000000,
                        "signature": "0x" + "11" * 65,
                    },
                }
            ]
        },
    )


class PaymentBatchIn(_Strict):
    payments: Annotated[list[PaymentIn], Field(min_length=1, max_length=MAX_PAYMENTS_PER_REQUEST)]


class PaymentOut(BaseModel):
    payment_id: str
    idempotency_key: str
    payer: str
    payee: str
    amount_base_units: int
    purpose: Purpose
    mode: SettlementMode
    state: PaymentState
    failure_reason: str | None
    submission_id: int | None
    accepted_at: float
    submitted_at: float | None
    confirmed_at: float | None


class PaymentResultOut(BaseModel):
    """One payment's result in a batch request: ``status`` is the HTTP status it would have had."""

    payment_id: str
    status: int
    created: bool
    payment: PaymentOut | None
    rejection: str | None


class PaymentBatchOut(BaseModel):
    results: list[PaymentResultOut]


class ErrorOut(BaseModel):
    detail: str


class RoundOut(BaseModel):
    mode: SettlementMode
    transactions: int
    settled: int
    failed: int
    requeued: int


class FlushOut(BaseModel):
    rounds: list[RoundOut]


class ModeStatsOut(BaseModel):
    mode: SettlementMode
    counts: dict[PaymentState, int]


class StatsOut(BaseModel):
    modes: list[ModeStatsOut]
    queued: int
    max_queued: int
    process_cpu_s: float = Field(
        description="CPU seconds this service process has used so far: a client measuring the "
        "service's CPU per payment reads it before and after"
    )


class BalanceOut(BaseModel):
    """An account's stablecoin balance on chain, in base units, and what it has queued to pay."""

    address: str
    token: str
    balance_base_units: int
    queued_outgoing_base_units: int
    block_number: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    chain_id: int | None
    latest_block: int | None
    database: Literal["ok", "unreachable"]
    # Whether this process holds the settling lease (it runs the settlement windows); None
    # where the app runs without an election (one process, in tests and tools).
    settling: bool | None = None


class FundingIn(_Strict):
    """The payer's EIP-3009 ``ReceiveWithAuthorization`` moving ``amount_base_units`` into escrow.

    The nonce is not sent: it is the channel id (opening), the top-up nonce (top-up) or, for a
    net-settlement deposit, given beside it.
    """

    payer: Address
    amount_base_units: Annotated[int, Field(strict=True, ge=1, le=MAX_PAYMENT_BASE_UNITS)]
    valid_after: UnixTime
    valid_before: UnixTime
    signature: Signature


class ChannelOpenIn(_Strict):
    payee: Address
    salt: Hex32 = Field(description="Any 32 bytes; the channel id is keccak(payer, payee, salt)")
    funding: FundingIn


class ChannelTopUpIn(_Strict):
    top_up_salt: Hex32
    funding: FundingIn


class DepositIn(_Strict):
    nonce: Hex32
    funding: FundingIn


class ChannelOut(BaseModel):
    """A channel on chain (deposit, claimed) beside the vouchers the service has accepted."""

    channel_id: str
    payer: str
    payee: str
    deposit_base_units: int
    claimed_base_units: int
    accepted_base_units: int
    withdrawable_at: int
    funding_gas_used: int | None = Field(
        default=None,
        description="Gas of the funding transaction this request relayed; none on reads",
    )


class NetAccountOut(BaseModel):
    """An account's net-settlement deposit, and what its accepted payments have committed."""

    address: str
    deposit_base_units: int
    committed_base_units: int
    funding_gas_used: int | None = Field(
        default=None,
        description="Gas of the funding transaction this request relayed; none on reads",
    )


class InclusionProofOut(BaseModel):
    """A net payment's Merkle proof: ``verifyPayment(window_id, payment_id, payer, payee, amount,
    proof)`` on the NetSettlement contract returns true; ``verified_on_chain`` is that answer."""

    payment_id: str
    window_id: int
    leaf_index: int
    root: str
    proof: list[str]
    tx_hash: str
    verified_on_chain: bool


class PaymentCostOut(BaseModel):
    """A confirmed payment's share of its transaction's gas (21,000 base included), the fee at
    the transaction's effective gas price, its latencies from acceptance, and verification CPU."""

    payment_id: str
    mode: SettlementMode
    tx_hash: str
    gas: int
    fee_wei: int
    payments_in_transaction: int
    accepted_to_submitted_s: float
    accepted_to_included_s: float | None
    accepted_to_confirmed_s: float
    verify_cpu_ns: int


class LedgerDepositIn(_Strict):
    """Money entering the baseline ledger from outside it, like cash paid into a bank."""

    address: Address
    amount_base_units: Annotated[int, Field(strict=True, ge=1, le=MAX_PAYMENT_BASE_UNITS)]
    reference: IdempotencyKey = Field(
        description="The deposit's idempotency key: the same reference twice deposits once."
    )


class LedgerAccountOut(BaseModel):
    """An address's wallet on the baseline ledger."""

    address: str
    balance_base_units: int
    debits_posted_base_units: int
    credits_posted_base_units: int


class HoldingDifferenceOut(BaseModel):
    holding: str
    address: str
    book_base_units: int
    chain_base_units: int
    difference_base_units: int
    pending_out_base_units: int
    pending_in_base_units: int
    explained_by_pending: bool


class ReconciliationOut(BaseModel):
    """The service's book against the chain: every holding whose figures differ."""

    holdings_checked: int
    unexplained: int
    differences: list[HoldingDifferenceOut]


# ---------------------------------------------------------------- fleets over HTTP

MAX_GRANT_BASE_UNITS = 10**15
MAX_GRANT_WEI = 10**21


class DomainOut(BaseModel):
    """An EIP-712 domain, as a payer signs under it."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str


class TermsOut(BaseModel):
    """Everything a payer needs to sign a payment this service accepts, in every mode it runs.

    Direct payers' fee caps carry headroom, because a fleet signs a run's transactions at once.
    """

    chain_id: int
    chain_time: int
    token: str
    token_domain: DomainOut
    channels_domain: DomainOut | None
    net_domain: DomainOut | None
    ledger_domain: DomainOut
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    modes: list[SettlementMode]
    faucet: bool = Field(description="Whether POST /v1/faucet can fund test accounts here")


class GrantIn(_Strict):
    """Top ``address`` up to at least these balances (a retry never funds twice)."""

    address: Address
    token_base_units: Annotated[int, Field(strict=True, ge=0, le=MAX_GRANT_BASE_UNITS)]
    ether_wei: Annotated[int, Field(strict=True, ge=0, le=MAX_GRANT_WEI)] = 0


class FaucetIn(_Strict):
    grants: Annotated[list[GrantIn], Field(min_length=1, max_length=MAX_PAYMENTS_PER_REQUEST)]


class FaucetOut(BaseModel):
    minted_base_units: int
    mint_transactions: int
    ether_topped_up: int
    gas_used: int


class PaymentLookupIn(_Strict):
    payment_ids: Annotated[list[Hex32], Field(min_length=1, max_length=MAX_PAYMENTS_PER_REQUEST)]


class SettledPaymentOut(BaseModel):
    """A payment and, once confirmed on chain, the transaction that settled it."""

    payment: PaymentOut
    tx_hash: str | None
    transaction_gas_used: int | None
    payments_in_transaction: int | None


class PaymentLookupOut(BaseModel):
    payments: list[SettledPaymentOut]
    unknown: list[str] = Field(description="Requested ids the service has no payment for")


# ---------------------------------------------------------------- dashboard


class TransactionOut(BaseModel):
    """A settlement transaction: what it carried and what it cost."""

    tx_hash: str
    mode: SettlementMode
    state: str
    block_number: int | None
    gas_used: int | None
    effective_gas_price_wei: int | None
    fee_wei: int | None
    payments_settled: int | None
    mined_at: float | None
    payment_ids: list[str] = Field(description="Empty in lists; the details route fills it")
    details_url: str


class ModeActivityOut(BaseModel):
    """One mode now: payments by state, the last minute second by second, recent latency."""

    mode: SettlementMode
    counts: dict[PaymentState, int]
    accepted_per_s: list[int] = Field(description="Each of the last window_s seconds, oldest first")
    settled_per_s: list[int]
    latency_ms_p50: float | None
    latency_ms_p99: float | None
    gas_per_payment: float | None = Field(
        description="Gas of the mode's confirmed settlement transactions per payment they settled"
    )


class DashboardOut(BaseModel):
    now: float
    window_s: int
    latency_window_s: int
    queued: int
    max_queued: int
    modes: list[ModeActivityOut]
    recent_transactions: list[TransactionOut]
