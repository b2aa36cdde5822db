"""The operator key at rest: an Ethereum V3 keystore file (scrypt or PBKDF2, then AES-128-CTR).

A keystore is what geth, Foundry's ``cast wallet`` and eth-account write: the private key
encrypted under a password. The service reads one with ``SETTLEMENT_KEYSTORE`` (or
``--keystore``) and its password from ``SETTLEMENT_KEYSTORE_PASSWORD`` or the file named by
``SETTLEMENT_KEYSTORE_PASSWORD_FILE``: never from a flag, which every user of the machine could
read in ``ps``. Every error names the file and what is wrong with it, never the password or the
key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.errors import ConfigurationError

Kdf = Literal["scrypt", "pbkdf2"]
KDFS: tuple[Kdf, ...] = ("scrypt", "pbkdf2")
# A keystore is about 500 bytes; anything far larger is not one and is not read into memory.
MAX_KEYSTORE_BYTES = 64 * 1024
MAX_PASSWORD_BYTES = 4 * 1024
# The work factors a keystore may ask for. A hostile or damaged file could otherwise ask scrypt for
# terabytes of memory or PBKDF2 for hours. eth-account writes n = 2**18 and c = 1,000,000.
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 16
MAX_SCRYPT_P = 16
MAX_PBKDF2_ITERATIONS = 10_000_000
KEYSTORE_FILE_MODE = 0o600


def read_keystore_key(path: Path, password: str) -> str:
    """The private key (``0x`` and 64 hex digits) that ``password`` unlocks in the file at
    ``path``; ``ConfigurationError`` when the file is unreadable, not a V3 keystore, or the
    password is wrong."""
    document = _load_document(path)
    _check_work_factor(path, document)
    try:
        key = bytes(Account.decrypt(document, password))
    except ValueError as error:
        if "MAC mismatch" in str(error):
            raise ConfigurationError(f"wrong password for keystore {path}") from None
        raise ConfigurationError(f"keystore {path} is damaged: {type(error).__name__}") from None
    except (KeyError, TypeError, AssertionError) as error:
        raise ConfigurationError(f"keystore {path} is damaged: {type(error).__name__}") from None
    try:
        Account.from_key(key)
    except (ValueError, TypeError):
        raise ConfigurationError(f"keystore {path} does not hold a valid private key") from None
    return "0x" + key.hex()


def write_keystore(path: Path, private_key: str, password: str, kdf: Kdf = "scrypt") -> str:
    """Encrypt ``private_key`` under ``password`` into a new file at ``path`` (readable by its
    owner only); the key's address. An existing file is never overwritten."""
    account = _account(private_key)
    check_new_keystore_path(path)
    text = json.dumps(Account.encrypt(account.key, password, kdf=kdf))
    try:
        # O_EXCL refuses to replace a file, even one created since the check above: overwriting
        # a keystore could destroy the only copy of a funded key.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEYSTORE_FILE_MODE)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as error:
        raise ConfigurationError(f"cannot create {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    address: str = account.address
    return address


def check_new_keystore_path(path: Path) -> None:
    """Refuse early, before a password is asked for or a key stretched, a path already taken."""
    if path.exists():
        raise _exists(path)


def _exists(path: Path) -> ConfigurationError:
    return ConfigurationError(f"{path} exists: choose a new file for the keystore")


def new_private_key() -> str:
    """A fresh random private key from the operating system's generator."""
    key: str = Account.create().key.to_0x_hex()
    return key


def given_password(password: str | None, password_file: Path | None) -> str | None:
    """The password given directly or in a file; None when neither is given, an error when both
    are (which one was meant to win is anyone's guess)."""
    if password and password_file is not None:
        raise ConfigurationError(
            "give the keystore password once: SETTLEMENT_KEYSTORE_PASSWORD or "
            "SETTLEMENT_KEYSTORE_PASSWORD_FILE, not both"
        )
    if password:
        return password
    return read_password_file(password_file) if password_file is not None else None


def read_password_file(path: Path) -> str:
    """The password in ``path``, without the line break an editor or ``echo`` leaves after it."""
    raw = _read_bounded(path, MAX_PASSWORD_BYTES, "password file")
    try:
        password = raw.decode().removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise ConfigurationError(f"password file {path} is not UTF-8 text") from None
    if not password:
        raise ConfigurationError(f"password file {path} is empty")
    return password


def _read_bounded(path: Path, limit_bytes: int, what: str) -> bytes:
    """A small file's bytes; one line naming the file (never its contents) if it cannot be."""
    try:
        with path.open("rb") as file:
            raw = file.read(limit_bytes + 1)
    except OSError as error:
        raise ConfigurationError(f"cannot read {what} {path}: {error.strerror}") from None
    if len(raw) > limit_bytes:
        raise ConfigurationError(f"{what} {path} is over {limit_bytes} bytes")
    return raw


def _account(private_key: str) -> LocalAccount:
    try:
        account: LocalAccount = Account.from_key(private_key.strip())
    except (ValueError, TypeError):
        # The message never repeats the input, so a typo cannot leak a key into a terminal log.
        raise ConfigurationError("that is not a private key (64 hex digits)") from None
    return account


def _load_document(path: Path) -> dict[str, Any]:
    raw = _read_bounded(path, MAX_KEYSTORE_BYTES, "keystore")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigurationError(f"keystore {path} is not JSON") from None
    if not isinstance(document, dict) or document.get("version") != 3:
        raise ConfigurationError(f"keystore {path} is not an Ethereum V3 keystore")
    return document


def _check_work_factor(path: Path, document: dict[str, Any]) -> None:
    """Refuse a KDF this module does not know, or one set to cost more than any real keystore."""
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict) or not isinstance(crypto.get("kdfparams"), dict):
        raise ConfigurationError(f"keystore {path} is not an Ethereum V3 keystore")
    kdf, params = crypto.get("kdf"), crypto["kdfparams"]
    if kdf == "scrypt":
        bounds = {"n": MAX_SCRYPT_N, "r": MAX_SCRYPT_R, "p": MAX_SCRYPT_P}
    elif kdf == "pbkdf2":
        bounds = {"c": MAX_PBKDF2_ITERATIONS}
    else:
        raise ConfigurationError(f"keystore {path} uses an unknown KDF (scrypt or pbkdf2 only)")
    for name, limit in bounds.items():
        value = params.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
            raise ConfigurationError(
                f"keystore {path}: {kdf} parameter {name} must be an integer from 1 to {limit:,}"
            )
