"""Settings for the settlement tools, read once from the environment (prefix ``SETTLEMENT_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def default_contracts_dir() -> Path:
    """The Foundry project beside the package in a checkout, else ``./contracts``."""
    beside_package = REPOSITORY_ROOT / "contracts"
    return beside_package if beside_package.is_dir() else Path.cwd() / "contracts"


class Settings(BaseSettings):
    """Where the chain is and who pays for gas.

    With no ``rpc_url`` the tools start an embedded Anvil and use its public dev keys. With an
    ``rpc_url`` they need ``private_key``, a funded key given through the environment only.
    """

    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore")

    rpc_url: str | None = Field(default=None, description="JSON-RPC URL of an EVM chain")
    private_key: SecretStr | None = Field(
        default=None, description="Funded key that deploys and relays on a chain given by rpc_url"
    )
    contracts_dir: Path = Field(default_factory=default_contracts_dir)
    receipt_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path.db or postgresql://...; by default a SQLite file that lives "
        "as long as the embedded chain does",
    )
    ledger_url: str | None = Field(
        default=None,
        description="sqlite:///path.db, postgresql://... or memory:// for the double-entry ledger "
        "(the baseline mode and the service's book); by default beside database_url: a SQLite "
        "file next to the store's, or the same PostgreSQL database",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Operator key for operator routes; empty means none"
    )
    token_address: str | None = Field(
        default=None, description="An already deployed stablecoin; by default one is deployed"
    )
    channels_address: str | None = Field(
        default=None, description="An already deployed PaymentChannels; by default one is deployed"
    )
    net_address: str | None = Field(
        default=None, description="An already deployed NetSettlement; by default one is deployed"
    )
    confirmations: int = Field(default=1, ge=1, le=64)
    window_max_payments: int = Field(default=1_000, ge=1, le=100_000)
    window_max_wait_s: float = Field(default=2.0, gt=0, le=3600)
    max_queued: int = Field(default=200_000, ge=1, le=10_000_000)

    @field_validator("api_key", "private_key", mode="after")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty variable (as compose passes ``${X:-}``) means the setting is absent."""
        return None if value is None or not value.get_secret_value() else value
