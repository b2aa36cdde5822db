"""Settings for the settlement tools, read once from the environment (prefix ``SETTLEMENT_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from settlement.errors import ConfigurationError
from settlement.keystore import given_password, read_keystore_key

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The X-API-Key header is refused beyond this length, so a longer key could never be presented.
API_KEY_MAX_LENGTH = 256
# Per client: far above what a fleet (8 requests in flight) or the test suites send, so only a
# runaway or hostile client meets the limit; 0 requests per second turns it off.
DEFAULT_RATE_LIMIT_PER_S = 500.0
DEFAULT_RATE_LIMIT_BURST = 1_000


def default_contracts_dir() -> Path:
    """The Foundry project beside the package in a checkout, else ``./contracts``."""
    beside_package = REPOSITORY_ROOT / "contracts"
    return beside_package if beside_package.is_dir() else Path.cwd() / "contracts"


class Settings(BaseSettings):
    """Where the chain is and who pays for gas.

    With no ``rpc_url`` the tools start an embedded Anvil and use its public dev keys. With an
    ``rpc_url`` they need a funded key: ``private_key`` through the environment only, or a
    ``keystore`` file and its password. A keystore is decrypted once, here, into ``private_key``,
    so every consumer of the settings finds the key in the same place.

    Validation errors about secrets are ``ConfigurationError`` rather than pydantic's: pydantic's
    messages quote the input, and a model-level one quotes every setting, keys included.
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
    finality_blocks: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="How many latest blocks are watched for a reorganisation that removes a "
        "confirmed settlement (its payments are then settled again, once)",
    )
    window_max_payments: int = Field(default=1_000, ge=1, le=100_000)
    window_max_wait_s: float = Field(default=2.0, gt=0, le=3600)
    # settlers.channel.DEFAULT_CLAIM_MARGIN_S, which says why.
    channel_claim_margin_s: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How long before a payer's requested channel withdrawal becomes possible the "
        "service claims the channel's accepted vouchers, however long the claim window",
    )
    max_queued: int = Field(default=200_000, ge=1, le=10_000_000)
    authorizations_batched: bool = Field(
        default=False,
        description="Settle authorization-mode payments (x402's exact ones among them) many to a "
        "transferWithAuthorizations transaction instead of one transaction each",
    )
    keystore: Path | None = Field(
        default=None,
        description="An Ethereum V3 keystore file holding the operator key (instead of "
        "private_key)",
    )
    keystore_password: SecretStr | None = Field(
        default=None, description="The keystore's password (or keystore_password_file)"
    )
    keystore_password_file: Path | None = Field(
        default=None, description="A file whose first line is the keystore's password"
    )
    rate_limit_per_s: float = Field(
        default=DEFAULT_RATE_LIMIT_PER_S,
        ge=0,
        le=1_000_000,
        description="Requests a second each client may make on average; 0 turns limits off",
    )
    rate_limit_burst: int = Field(
        default=DEFAULT_RATE_LIMIT_BURST,
        ge=1,
        le=1_000_000,
        description="Requests a client may make at once before the average applies",
    )
    advertise_url: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^https?://[^\s/]+(:[0-9]+)?$",
        description="Where replicas sharing this store reach this one for the routes only the "
        "settling leader serves (default: its bind address and port, or its host name when it "
        "listens on 0.0.0.0)",
    )

    @field_validator("api_key", "private_key", "keystore_password", mode="after")
    @classmethod
    def _empty_secret_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        """An empty variable (as compose passes ``${X:-}``) means the setting is absent."""
        return None if value is None or not value.get_secret_value() else value

    @field_validator("keystore", "keystore_password_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        """An empty variable means no file (``Path("")`` would be the working directory)."""
        return None if value == "" else value

    @field_validator("api_key", mode="after")
    @classmethod
    def _api_key_fits_the_header(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) > API_KEY_MAX_LENGTH:
            raise ConfigurationError(
                f"SETTLEMENT_API_KEY is longer than {API_KEY_MAX_LENGTH} characters, the most "
                "an X-API-Key header may carry"
            )
        return value

    @model_validator(mode="after")
    def _operator_key_from_keystore(self) -> Self:
        if self.keystore is None:
            return self
        if self.private_key is not None:
            raise ConfigurationError(
                "give the operator key once: SETTLEMENT_PRIVATE_KEY or a keystore "
                "(SETTLEMENT_KEYSTORE, --keystore), not both"
            )
        self.private_key = SecretStr(read_keystore_key(self.keystore, self._keystore_password()))
        return self

    def _keystore_password(self) -> str:
        secret = self.keystore_password
        password = given_password(
            secret.get_secret_value() if secret else None, self.keystore_password_file
        )
        if password is None:
            raise ConfigurationError(
                f"keystore {self.keystore} needs its password: set SETTLEMENT_KEYSTORE_PASSWORD "
                "or SETTLEMENT_KEYSTORE_PASSWORD_FILE"
            )
        return password
