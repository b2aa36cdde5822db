"""Anvil's well-known development keys.

PUBLIC TEST KEYS: these are derived from Anvil's default mnemonic ("test test ... junk") and are
published in Foundry's documentation. Anyone can spend from them on any chain. They are the only
private keys in this repository and are used only with a local Anvil; every other chain needs a key
from the environment (``SETTLEMENT_PRIVATE_KEY``).
"""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount

ANVIL_DEV_PRIVATE_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)


def anvil_dev_account(index: int = 0) -> LocalAccount:
    """One of Anvil's funded dev accounts (index 0 is the default deployer)."""
    account: LocalAccount = Account.from_key(ANVIL_DEV_PRIVATE_KEYS[index])
    return account
