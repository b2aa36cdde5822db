"""Secrets never leak: the operator's private key, the API key and the keystore password appear in
no log line, no HTTP response, no file the service or a fleet run writes, no settings repr and no
error message.

The end-to-end test runs `settlement serve` as an operator does: its own Anvil, a funded key that
is not one of Anvil's published dev keys (given in the environment, or in a keystore), an API key
in the environment. It drives good and bad requests, settles a fleet through it, writes the
report, then searches everything written for the secrets in every spelling.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_typing import HexStr
from web3 import Web3
from web3.types import Wei

from settlement.chain.anvil import EmbeddedAnvil, find_anvil_binary, free_loopback_port
from settlement.chain.dev_accounts import anvil_dev_account
from settlement.config import REPOSITORY_ROOT, Settings
from settlement.errors import ConfigurationError
from settlement.redaction import public_database_url, public_rpc_url
from tests.cli_helpers import run_program, serve_command, wait_for_health

OPERATOR_FUNDING_WEI = 100 * 10**18
CHEAP_SCRYPT_N = 2**10


@dataclass
class Secrets:
    private_key: str  # 0x and 64 lowercase hex digits
    api_key: str
    keystore_password: str

    def spellings(self) -> dict[str, bytes]:
        """Each secret as bytes to search for, lowercased (haystacks are lowercased too, so any
        case matches); the key's hex without 0x also covers it with 0x."""
        return {
            "private key (hex)": self.private_key.removeprefix("0x").encode(),
            "API key": self.api_key.lower().encode(),
            "keystore password": self.keystore_password.lower().encode(),
        }

    def raw_key(self) -> bytes:
        return bytes.fromhex(self.private_key.removeprefix("0x"))


@dataclass
class Transcript:
    """Everything the service and the tools said, to be searched for secrets."""

    texts: dict[str, bytes] = field(default_factory=dict)

    def add(self, where: str, text: str | bytes) -> None:
        self.texts[where] = text if isinstance(text, bytes) else text.encode()

    def response(self, where: str, response: httpx.Response) -> httpx.Response:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
        self.add(f"response to {where}", headers.encode() + b"\n" + response.content)
        return response


def leaks(secret: Secrets, texts: dict[str, bytes]) -> list[str]:
    """Where any spelling of a secret occurs: '<secret> in <place>' (never the secret itself)."""
    found = []
    for place, text in texts.items():
        lowered = text.lower()
        for name, spelling in secret.spellings().items():
            if spelling in lowered:
                found.append(f"{name} in {place}")
        if secret.raw_key() in text:
            found.append(f"private key (raw bytes) in {place}")
    return found


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def own_anvil() -> Iterator[str]:
    """An Anvil of this module's own, so the operator's deployments touch no other test's chain."""
    with EmbeddedAnvil(find_anvil_binary(REPOSITORY_ROOT / "contracts")) as rpc_url:
        yield rpc_url


def funded_operator_key(rpc_url: str) -> str:
    """A fresh key (not a published dev key) holding ether sent by Anvil's first dev account."""
    account = Account.create()
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    sent = w3.eth.send_transaction(
        {
            "from": anvil_dev_account(0).address,
            "to": account.address,
            "value": Wei(OPERATOR_FUNDING_WEI),
        }
    )
    assert w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    assert w3.eth.get_balance(account.address) == OPERATOR_FUNDING_WEI
    key: str = account.key.to_0x_hex()
    return key


def key_variables(secret: Secrets, source: str, vault: Path) -> dict[str, str]:
    """The environment that hands the operator key over: directly, or in a keystore."""
    if source == "environment":
        return {"SETTLEMENT_PRIVATE_KEY": secret.private_key}
    keystore = vault / "operator.json"
    document = Account.encrypt(
        HexStr(secret.private_key),
        secret.keystore_password,
        kdf="scrypt",
        iterations=CHEAP_SCRYPT_N,
    )
    keystore.write_text(json.dumps(document))
    password_file = vault / "password"
    password_file.write_text(secret.keystore_password + "\n")
    return {
        "SETTLEMENT_KEYSTORE": str(keystore),
        "SETTLEMENT_KEYSTORE_PASSWORD_FILE": str(password_file),
    }


@pytest.mark.anvil
@pytest.mark.parametrize("key_source", ["environment", "keystore"])
def test_no_secret_reaches_logs_responses_or_written_files(
    tmp_path: Path, own_anvil: str, key_source: str
) -> None:
    secret = Secrets(
        private_key=funded_operator_key(own_anvil),
        api_key=f"Op-{secrets.token_hex(20)}",
        keystore_password=f"pw-{secrets.token_hex(12)}",
    )
    run, vault = tmp_path / "run", tmp_path / "vault"
    run.mkdir()
    vault.mkdir()  # the keystore and its password file: secrets by design, so not searched
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SETTLEMENT_") or key == "SETTLEMENT_CONTRACTS_DIR"
    }
    serve_environment = {
        **environment,
        "SETTLEMENT_API_KEY": secret.api_key,
        **key_variables(secret, key_source, vault),
    }
    transcript = Transcript()
    port = free_loopback_port()
    with (run / "serve.out").open("w") as out, (run / "serve.err").open("w") as err:
        command = serve_command(
            "--rpc-url", own_anvil, "--port", str(port), "--window-seconds", "0.3",
            "--database-url", f"sqlite:///{run / 'served.db'}",
        )  # fmt: skip
        process = subprocess.Popen(
            command, stdout=out, stderr=err, text=True, env=serve_environment
        )
        try:
            assert wait_for_health(port, process)["status"] == "ok"
            url = f"http://127.0.0.1:{port}"
            requests_sent = drive_requests(url, secret, transcript)
            settle_a_fleet(url, secret, run, environment, transcript)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    assert process.returncode == 0
    served = (run / "serve.err").read_text()  # serve reports on stderr
    operator = Account.from_key(secret.private_key).address
    assert f"relayer {operator}" in served  # the key in use is the one handed over
    assert f"chain 31337 at {own_anvil}" in served

    written = files_under(run)
    searched = {Path(path).relative_to(run).as_posix() for path in written}
    assert {"serve.err", "served.db", "fleet/report.json", "fleet/report.html"} <= searched
    answers = [place for place in transcript.texts if place.startswith("response")]
    assert len(answers) == requests_sent
    assert leaks(secret, {**transcript.texts, **written}) == []
    # The search does find a secret where one is written, so an empty result means something.
    assert leaks(secret, {"a probe": secret.private_key.upper().encode()}) == [
        "private key (hex) in a probe"
    ]


def drive_requests(url: str, secret: Secrets, transcript: Transcript) -> int:
    """Good and failing requests, operator and not; every answer goes into the transcript.
    Returns how many were sent."""
    operator = {"X-API-Key": secret.api_key}
    with httpx.Client(base_url=url, timeout=30) as http:
        expected = [
            ("GET", "/v1/terms", None, {}, 200),
            ("POST", "/v1/windows/flush", None, {}, 401),
            ("POST", "/v1/windows/flush", None, {"X-API-Key": secret.api_key[:-1]}, 401),
            ("POST", "/v1/windows/flush", None, {"X-API-Key": secret.api_key.upper()}, 401),
            ("POST", "/v1/windows/flush", None, {"X-API-Key": "k" * 300}, 422),
            ("POST", "/v1/payments", {"payer": "nobody"}, {}, 422),
            ("POST", "/v1/payments", invalid_payment(), {}, 400),
            ("POST", "/v1/payments/batch", {"payments": "many"}, operator, 422),
            ("POST", "/v1/ledger/deposits", {"address": "0x12", "amount": 1}, operator, 422),
            ("GET", "/v1/payments/0x" + "ab" * 32, None, operator, 404),
            ("GET", "/v1/balances/not-an-address", None, {}, 422),
            ("GET", "/v1/book/reconciliation", None, operator, 200),
            ("POST", "/v1/windows/flush", None, operator, 200),
            ("GET", "/metrics", None, {}, 200),
            ("GET", "/openapi.json", None, {}, 200),
        ]
        for number, (method, path, body, headers, status) in enumerate(expected):
            response = http.request(method, path, json=body, headers=headers)
            transcript.response(f"request {number}: {method} {path}", response)
            assert response.status_code == status, (method, path, response.text)
    return len(expected)


def invalid_payment() -> dict[str, object]:
    """A payment the schema accepts and the service refuses: its signature signs nothing."""
    return {
        "idempotency_key": "leak-test-1",
        "payer": Account.create().address,
        "payee": Account.create().address,
        "amount_base_units": 1_000,
        "instrument": {
            "mode": "authorization",
            "valid_after": 0,
            "valid_before": 2**40,
            "nonce": "0x" + "11" * 32,
            "signature": "0x" + "22" * 65,
        },
    }


def settle_a_fleet(
    url: str, secret: Secrets, run: Path, environment: dict[str, str], transcript: Transcript
) -> None:
    """A short fleet run in every mode through the service, then its report written again."""
    fleet = run / "fleet"
    simulated = run_program(
        "robots", "simulate", "--steps", "8", "--mode", "all", "--settlement-url", url,
        "--out", str(fleet), env={**environment, "SETTLEMENT_API_KEY": secret.api_key},
    )  # fmt: skip
    transcript.add("robots simulate stdout", simulated.stdout)
    transcript.add("robots simulate stderr", simulated.stderr)
    assert simulated.returncode == 0, simulated.stderr
    modes = json.loads((fleet / "report.json").read_text())["settlement"]["modes"]
    assert len(modes) == 6
    assert all(mode["settled_by"] == url for mode in modes)
    reported = run_program("settlement", "report", str(fleet), env=environment)
    transcript.add("settlement report stdout", reported.stdout)
    transcript.add("settlement report stderr", reported.stderr)
    assert reported.returncode == 0, reported.stderr


# ---------------------------------------------------------------- settings and errors

PRIVATE_KEY = "0x" + "5e" * 31 + "c7"  # no dev key, never funded anywhere
API_KEY = "unit-test-operator-key-9f2c"


def test_settings_never_show_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETTLEMENT_PRIVATE_KEY", PRIVATE_KEY)
    monkeypatch.setenv("SETTLEMENT_API_KEY", API_KEY)
    monkeypatch.setenv("SETTLEMENT_KEYSTORE_PASSWORD", "the-password-7")
    settings = Settings()
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == PRIVATE_KEY
    shown = " ".join(
        [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]
    )
    for secret in (PRIVATE_KEY[2:], API_KEY, "the-password-7"):
        assert secret not in shown.lower()
    assert "**********" in shown


def test_a_settings_error_names_the_setting_but_echoes_no_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SETTLEMENT_PRIVATE_KEY", PRIVATE_KEY)
    monkeypatch.setenv("SETTLEMENT_API_KEY", API_KEY)
    monkeypatch.setenv("SETTLEMENT_CONFIRMATIONS", "many")
    with pytest.raises(ValueError, match="confirmations") as refused:
        Settings()
    assert PRIVATE_KEY[2:] not in str(refused.value)
    assert API_KEY not in str(refused.value)


def test_an_api_key_too_long_for_the_header_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    too_long = "k" * 257
    monkeypatch.setenv("SETTLEMENT_API_KEY", too_long)
    with pytest.raises(ConfigurationError) as refused:
        Settings()
    assert str(refused.value) == (
        "SETTLEMENT_API_KEY is longer than 256 characters, the most an X-API-Key header may carry"
    )


def test_both_a_key_and_a_keystore_is_refused_without_echoing_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SETTLEMENT_PRIVATE_KEY", PRIVATE_KEY)
    monkeypatch.setenv("SETTLEMENT_KEYSTORE", str(tmp_path / "operator.json"))
    with pytest.raises(ConfigurationError) as refused:
        Settings()
    assert "not both" in str(refused.value)
    assert PRIVATE_KEY[2:] not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://base-mainnet.example.com/v2/k3y-in-path", "https://base-mainnet.example.com/***"),
        ("https://rpc.example.com/?apikey=k3y-in-query", "https://rpc.example.com/***"),
        ("https://user:k3y-as-password@rpc.example.com", "https://user:***@rpc.example.com"),
        ("http://[::1", "***"),
    ],
)
def test_rpc_urls_are_shown_without_their_keys(url: str, shown: str) -> None:
    assert public_rpc_url(url) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:////tmp/run/served.db", "sqlite:////tmp/run/served.db"),
        ("postgresql://postgres@db:5432/test", "postgresql://postgres@db:5432/test"),
        ("postgresql://app:s3cret@db:5432/settle", "postgresql://app:***@db:5432/settle"),
        ("postgresql://app@db/settle?password=s3cret", "postgresql://app@db/settle?***"),
    ],
)
def test_database_urls_are_shown_without_their_passwords(url: str, shown: str) -> None:
    assert public_database_url(url) == shown
