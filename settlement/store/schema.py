"""Tables of the payment store (SQLAlchemy Core, portable between SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite auto-increments only a column declared exactly INTEGER PRIMARY KEY.
IdentityInteger = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(66), primary_key=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("payer", sa.String(42), nullable=False),
    sa.Column("payee", sa.String(42), nullable=False),
    sa.Column("amount_base_units", sa.BigInteger, nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("replay_key", sa.String(200), nullable=False, unique=True),
    sa.Column("instrument", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(66), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("failure_reason", sa.String(500)),
    sa.Column("submission_id", sa.BigInteger, sa.ForeignKey("submissions.submission_id")),
    # A settler takes queued payments under a lease, so replicas sharing one database never
    # build two transactions from the same payment; an expired lease frees them again.
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("accepted_at", sa.Float, nullable=False),
    sa.Column("submitted_at", sa.Float),
    sa.Column("confirmed_at", sa.Float),
    sa.Column("verify_cpu_ns", sa.BigInteger, nullable=False),
    sa.CheckConstraint("amount_base_units > 0", name="payments_amount_positive"),
    sa.Index("payments_by_state", "mode", "state", "accepted_at"),
    sa.Index("payments_by_payer", "payer", "accepted_at"),
    sa.Index("payments_by_submission", "submission_id"),
)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("submission_id", IdentityInteger, primary_key=True, autoincrement=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("sender", sa.String(42), nullable=False),
    sa.Column("nonce", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("mined_tx_hash", sa.String(66)),
    sa.Column("block_number", sa.BigInteger),
    sa.Column("gas_used", sa.BigInteger),
    sa.Column("effective_gas_price_wei", sa.BigInteger),
    sa.Column("settled_count", sa.Integer),
    sa.Column("completed_at", sa.Float),
    # When the relayer first saw the transaction in a block (added by migration 4).
    sa.Column("mined_at", sa.Float),
    # The hash of the block it was mined in, to notice a reorganisation removing that block
    # (added by migration 5).
    sa.Column("block_hash", sa.String(66)),
    # What an escrow operation did ("channel-open", "channel-top-up", "net-deposit"); null for a
    # settlement transaction (added by migration 7). An escrow operation settles no payment.
    sa.Column("escrow_operation", sa.String(32)),
    sa.Index("submissions_by_state", "state"),
    sa.Index("submissions_by_block", "block_number"),
)

transaction_attempts = sa.Table(
    "transaction_attempts",
    metadata,
    sa.Column("tx_hash", sa.String(66), primary_key=True),
    sa.Column(
        "submission_id",
        sa.BigInteger,
        sa.ForeignKey("submissions.submission_id"),
        nullable=False,
        index=True,
    ),
    sa.Column("raw_transaction", sa.LargeBinary, nullable=False),
    sa.Column("max_fee_per_gas_wei", sa.BigInteger, nullable=False),
    sa.Column("max_priority_fee_per_gas_wei", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

service_meta = sa.Table(
    "service_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)

# The service's view of each payment channel: the deposit the chain last showed, and the cumulative
# voucher amount accepted so far. Accepting a voucher is a compare-and-set on that amount, so two
# vouchers racing for the same channel cannot both follow the same predecessor.
channels = sa.Table(
    "channels",
    metadata,
    sa.Column("channel_id", sa.String(66), primary_key=True),
    sa.Column("payer", sa.String(42), nullable=False),
    sa.Column("payee", sa.String(42), nullable=False),
    sa.Column("deposit_base_units", sa.BigInteger, nullable=False),
    sa.Column("accepted_cumulative_base_units", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.CheckConstraint(
        "accepted_cumulative_base_units <= deposit_base_units", name="channels_within_deposit"
    ),
)

# Leader election among replicas and worker processes sharing one store: one row per duty (the
# settling of one relayer key), held by the process whose lease has not expired. ``address`` is
# where that process answers the routes only the leader may serve, for the others to forward to.
leadership = sa.Table(
    "leadership",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("address", sa.String(256), nullable=True),
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
