"""The operator key from an encrypted keystore: real files, the settings that decrypt them, the
`settlement keystore` commands (run in this process, through the same entry point as the
installed command), and a deployment signed with a keystore's key (in a real process)."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import HexStr
from web3 import Web3

from settlement.chain.artifacts import load_artifact
from settlement.chain.dev_accounts import ANVIL_DEV_PRIVATE_KEYS
from settlement.chain.stablecoin import STABLECOIN_ARTIFACT
from settlement.cli import app
from settlement.cli_runner import run_cli
from settlement.config import REPOSITORY_ROOT, Settings
from settlement.errors import ConfigurationError
from settlement.keystore import (
    MAX_KEYSTORE_BYTES,
    MAX_SCRYPT_N,
    Kdf,
    read_keystore_key,
    write_keystore,
)
from tests.cli_helpers import run_settlement

PASSWORD = "correct horse battery staple"
# Cheap work factors keep the tests fast; the format is the same as at full strength.
CHEAP_WORK = {"scrypt": 2**10, "pbkdf2": 1_000}
KEYSTORE_VARIABLES = (
    "SETTLEMENT_PRIVATE_KEY",
    "SETTLEMENT_KEYSTORE",
    "SETTLEMENT_KEYSTORE_PASSWORD",
    "SETTLEMENT_KEYSTORE_PASSWORD_FILE",
)


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in KEYSTORE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def keystore_file(folder: Path, private_key: str, kdf: Kdf = "scrypt") -> Path:
    document = Account.encrypt(HexStr(private_key), PASSWORD, kdf=kdf, iterations=CHEAP_WORK[kdf])
    path = folder / f"{kdf}-keystore.json"
    path.write_text(json.dumps(document))
    return path


def fresh_key() -> str:
    key: str = Account.create().key.to_0x_hex()
    return key


def assert_refused(path: Path, password: str, reason: str, secrets: tuple[str, ...] = ()) -> None:
    with pytest.raises(ConfigurationError) as refused:
        read_keystore_key(path, password)
    assert str(refused.value) == reason
    for secret in (password, *secrets):
        assert secret not in str(refused.value)


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_a_keystore_gives_back_its_key(tmp_path: Path, kdf: Kdf) -> None:
    key = fresh_key()
    assert read_keystore_key(keystore_file(tmp_path, key, kdf), PASSWORD) == key


def test_a_written_keystore_is_private_never_overwritten_and_reads_back(tmp_path: Path) -> None:
    key = fresh_key()
    path = tmp_path / "operator.json"
    address = write_keystore(path, key, PASSWORD, kdf="pbkdf2")
    assert address == Account.from_key(key).address
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.removeprefix("0x") not in path.read_text().lower()
    assert read_keystore_key(path, PASSWORD) == key
    before = path.read_bytes()
    with pytest.raises(ConfigurationError, match="exists: choose a new file"):
        write_keystore(path, fresh_key(), PASSWORD, kdf="pbkdf2")
    assert path.read_bytes() == before


def test_a_wrong_password_is_one_clear_error(tmp_path: Path) -> None:
    key = fresh_key()
    path = keystore_file(tmp_path, key)
    assert_refused(path, "wrong horse", f"wrong password for keystore {path}", (key[2:],))


def test_unreadable_and_malformed_files_are_named_with_what_is_wrong(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    assert_refused(missing, PASSWORD, f"cannot read keystore {missing}: No such file or directory")
    assert_refused(tmp_path, PASSWORD, f"cannot read keystore {tmp_path}: Is a directory")
    not_json = tmp_path / "not.json"
    not_json.write_text("{ this is not json")
    assert_refused(not_json, PASSWORD, f"keystore {not_json} is not JSON")
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (MAX_KEYSTORE_BYTES + 1))
    assert_refused(huge, PASSWORD, f"keystore {huge} is over {MAX_KEYSTORE_BYTES} bytes")
    for name, document in [("list", [1, 2]), ("v4", {"version": 4}), ("v3", {"version": 3})]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document))
        assert_refused(path, PASSWORD, f"keystore {path} is not an Ethereum V3 keystore")


def test_a_damaged_keystore_is_reported_as_damaged(tmp_path: Path) -> None:
    path = keystore_file(tmp_path, fresh_key())
    document = json.loads(path.read_text())
    del document["crypto"]["ciphertext"]
    path.write_text(json.dumps(document))
    assert_refused(path, PASSWORD, f"keystore {path} is damaged: KeyError")


def test_work_factors_beyond_any_real_keystore_are_refused_before_any_work(
    tmp_path: Path,
) -> None:
    path = keystore_file(tmp_path, fresh_key())
    document = json.loads(path.read_text())
    # 2**30 with r = 8 would ask scrypt for 1 TiB of memory.
    document["crypto"]["kdfparams"]["n"] = 2**30
    path.write_text(json.dumps(document))
    assert_refused(
        path, PASSWORD, f"keystore {path}: scrypt parameter n must be an integer from 1 to "
        f"{MAX_SCRYPT_N:,}",
    )  # fmt: skip
    document["crypto"]["kdf"] = "argon2"
    path.write_text(json.dumps(document))
    assert_refused(path, PASSWORD, f"keystore {path} uses an unknown KDF (scrypt or pbkdf2 only)")


# ---------------------------------------------------------------- settings


def test_settings_decrypt_the_keystore_into_the_operator_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = fresh_key()
    monkeypatch.setenv("SETTLEMENT_KEYSTORE", str(keystore_file(tmp_path, key)))
    monkeypatch.setenv("SETTLEMENT_KEYSTORE_PASSWORD", PASSWORD)
    settings = Settings()
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == key
    assert key[2:] not in repr(settings).lower()
    assert PASSWORD not in repr(settings)


def test_the_password_can_come_from_a_file_with_a_trailing_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = fresh_key()
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    monkeypatch.setenv("SETTLEMENT_KEYSTORE_PASSWORD_FILE", str(password_file))
    settings = Settings(keystore=keystore_file(tmp_path, key, "pbkdf2"))
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value() == key


@pytest.mark.parametrize(
    ("variables", "reason"),
    [
        (
            {"SETTLEMENT_PRIVATE_KEY": ANVIL_DEV_PRIVATE_KEYS[1]},
            "give the operator key once: SETTLEMENT_PRIVATE_KEY or a keystore "
            "(SETTLEMENT_KEYSTORE, --keystore), not both",
        ),
        (
            {"SETTLEMENT_KEYSTORE_PASSWORD": PASSWORD, "SETTLEMENT_KEYSTORE_PASSWORD_FILE": "pw"},
            "give the keystore password once: SETTLEMENT_KEYSTORE_PASSWORD or "
            "SETTLEMENT_KEYSTORE_PASSWORD_FILE, not both",
        ),
        (
            {},
            "needs its password: set SETTLEMENT_KEYSTORE_PASSWORD or "
            "SETTLEMENT_KEYSTORE_PASSWORD_FILE",
        ),
        ({"SETTLEMENT_KEYSTORE_PASSWORD_FILE": "absent"}, "cannot read password file absent"),
    ],
)
def test_ambiguous_or_missing_secrets_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], reason: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pw").write_text(PASSWORD)
    monkeypatch.setenv("SETTLEMENT_KEYSTORE", str(keystore_file(tmp_path, fresh_key())))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refused:
        Settings()
    assert reason in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert ANVIL_DEV_PRIVATE_KEYS[1][2:] not in str(refused.value)


def test_empty_variables_mean_no_keystore(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in KEYSTORE_VARIABLES:
        monkeypatch.setenv(variable, "")
    settings = Settings()
    assert (settings.keystore, settings.private_key, settings.keystore_password) == (None,) * 3
    assert settings.keystore_password_file is None


# ---------------------------------------------------------------- the commands


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def settlement_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Done]:
    """Run ``settlement`` in this process as its entry point does, with ``stdin`` piped in (not
    a terminal) and the given environment variables."""

    def run(stdin: str, *args: str, **variables: str) -> Done:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = run_cli(app, "settlement", list(args))
        printed = capsys.readouterr()
        return Done(code, printed.out, printed.err)

    return run


def test_keystore_new_prints_only_the_address_of_a_key_it_keeps_encrypted(
    tmp_path: Path, settlement_with: Callable[..., Done]
) -> None:
    out = tmp_path / "new.json"
    done = settlement_with(
        "", "keystore", "new", "--out", str(out), "--kdf", "pbkdf2",
        SETTLEMENT_KEYSTORE_PASSWORD=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    address = done.stdout.strip()
    assert Web3.is_checksum_address(address)
    assert done.stderr == ""
    key = read_keystore_key(out, PASSWORD)
    assert Account.from_key(key).address == address

    again = settlement_with(
        "", "keystore", "new", "--out", str(out), SETTLEMENT_KEYSTORE_PASSWORD=PASSWORD
    )
    assert again.returncode == 1
    assert again.stderr == f"settlement: error: {out} exists: choose a new file for the keystore\n"


def test_keystore_import_reads_the_key_from_stdin(
    tmp_path: Path, settlement_with: Callable[..., Done]
) -> None:
    key = fresh_key()
    out = tmp_path / "imported.json"
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    done = settlement_with(
        key.upper().replace("0X", "0x") + "\n", "keystore", "import", "--out", str(out),
        "--kdf", "pbkdf2", SETTLEMENT_KEYSTORE_PASSWORD_FILE=str(password_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == Account.from_key(key).address
    assert key[2:] not in (done.stdout + done.stderr).lower()
    assert read_keystore_key(out, PASSWORD) == key


@pytest.mark.parametrize(
    ("stdin", "variables", "reason"),
    [
        (
            "0xsecret-looking-but-not-a-key\n",
            {"SETTLEMENT_KEYSTORE_PASSWORD": PASSWORD},
            "that is not a private key (64 hex digits)",
        ),
        (
            ANVIL_DEV_PRIVATE_KEYS[2] + "\n" + ANVIL_DEV_PRIVATE_KEYS[3],
            {"SETTLEMENT_KEYSTORE_PASSWORD": PASSWORD},
            "standard input must hold one private key and nothing else",
        ),
        (
            ANVIL_DEV_PRIVATE_KEYS[2],
            {},
            "set SETTLEMENT_KEYSTORE_PASSWORD or SETTLEMENT_KEYSTORE_PASSWORD_FILE (no terminal "
            "to ask on)",
        ),
    ],
)
def test_keystore_import_refuses_bad_input_in_one_line_without_echoing_it(
    tmp_path: Path,
    settlement_with: Callable[..., Done],
    stdin: str,
    variables: dict[str, str],
    reason: str,
) -> None:
    out = tmp_path / "refused.json"
    done = settlement_with(stdin, "keystore", "import", "--out", str(out), **variables)
    assert done.returncode == 1
    assert done.stderr == f"settlement: error: {reason}\n"
    assert done.stdout == ""
    assert not out.exists()


def test_a_wrong_keystore_password_stops_serve_in_one_line(
    tmp_path: Path, settlement_with: Callable[..., Done]
) -> None:
    path = keystore_file(tmp_path, fresh_key())
    done = settlement_with(
        "", "serve", "--keystore", str(path), SETTLEMENT_KEYSTORE_PASSWORD="not it"
    )
    assert done.returncode == 1
    assert done.stderr == f"settlement: error: wrong password for keystore {path}\n"


@pytest.mark.anvil
def test_deploy_signs_with_the_keystore_key(tmp_path: Path, anvil_rpc_url: str) -> None:
    dev_key = ANVIL_DEV_PRIVATE_KEYS[3]
    path = keystore_file(tmp_path, dev_key)
    done = run_settlement(
        "deploy", "--rpc-url", anvil_rpc_url, "--keystore", str(path),
        env={**os.environ, "SETTLEMENT_KEYSTORE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    token_address = done.stdout.strip()
    artifact = load_artifact(REPOSITORY_ROOT / "contracts", STABLECOIN_ARTIFACT)
    token = Web3(Web3.HTTPProvider(anvil_rpc_url)).eth.contract(
        address=Web3.to_checksum_address(token_address), abi=artifact.abi
    )
    default_admin_role = b"\x00" * 32
    assert token.functions.hasRole(default_admin_role, Account.from_key(dev_key).address).call()
