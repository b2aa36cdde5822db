from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from settlement.domain.addresses import is_checksummed, to_checksummed
from settlement.domain.payments import payment_id

PAYER = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.mark.parametrize("raw", ["0x" + "ab" * 20, PAYER.lower(), "0x" + "0" * 40])
def test_checksums_match_eth_utils(raw: str) -> None:
    assert to_checksummed(raw) == to_checksum_address(raw)
    assert is_checksummed(to_checksum_address(raw))


def test_wrong_checksums_and_malformed_addresses_are_refused() -> None:
    assert not is_checksummed(PAYER.swapcase().replace("0X", "0x"))
    assert not is_checksummed("0x1234")
    with pytest.raises(ValueError, match="not a 20-byte hex address"):
        to_checksummed("0x1234")


@pytest.mark.parametrize("key", ["1", "robot-17:energy:000042", "k" * 128])
def test_payment_ids_match_the_abi_encoding(key: str) -> None:
    assert payment_id(PAYER, key) == keccak(encode(["address", "string"], [PAYER, key]))
