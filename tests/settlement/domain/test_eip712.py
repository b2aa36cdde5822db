"""Our direct EIP-712 encoder against eth-account's generic one, and signature recovery."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.domain.eip712 import (
    Eip712Domain,
    compact_signature,
    recover_signer,
    sign_digest,
    split_signature,
)
from settlement.domain.messages import (
    AuthorizationKind,
    BatchPayment,
    CancelAuthorization,
    NetPayment,
    Permit,
    SignedMessage,
    TransferAuthorization,
    Voucher,
    random_nonce,
)
from settlement.errors import SignatureError
from tests.settlement.typed_data import (
    authorization_typed_data,
    cancel_typed_data,
    permit_typed_data,
    typed_data,
)

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
PAYER = Account.from_key(b"\x01" * 32)
PAYEE = Account.from_key(b"\x02" * 32)
DOMAIN = Eip712Domain("Robot Dollar", "1", 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
timestamps = st.integers(min_value=0, max_value=2**64)


def generic_digest(typed_data: dict[str, object]) -> bytes:
    signable = encode_typed_data(full_message=typed_data)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@settings(max_examples=200)
@given(
    payer=addresses,
    payee=addresses,
    value=uint256,
    valid_after=timestamps,
    lifetime=st.integers(min_value=1, max_value=2**32),
    nonce=st.binary(min_size=32, max_size=32),
    kind=st.sampled_from(AuthorizationKind),
    chain_id=st.integers(min_value=1, max_value=2**64),
)
def test_authorization_digest_matches_eth_account(
    payer: str,
    payee: str,
    value: int,
    valid_after: int,
    lifetime: int,
    nonce: bytes,
    kind: AuthorizationKind,
    chain_id: int,
) -> None:
    domain = Eip712Domain("Robot Dollar", "1", chain_id, PAYEE.address)
    auth = TransferAuthorization(
        payer, payee, value, valid_after, valid_after + lifetime, nonce, kind
    )
    assert domain.digest(auth.struct_hash()) == generic_digest(
        authorization_typed_data(domain, auth)
    )


def test_cancel_and_permit_digests_match_eth_account() -> None:
    cancel = CancelAuthorization(PAYER.address, random_nonce())
    permit = Permit(PAYER.address, PAYEE.address, 5_000_000, 3, 2**40)
    assert DOMAIN.digest(cancel.struct_hash()) == generic_digest(cancel_typed_data(DOMAIN, cancel))
    assert DOMAIN.digest(permit.struct_hash()) == generic_digest(permit_typed_data(DOMAIN, permit))


def test_signature_equals_eth_accounts_and_recovers_the_payer() -> None:
    auth = TransferAuthorization(PAYER.address, PAYEE.address, 1_000, 0, 2**40, random_nonce())
    signed = auth.sign(PAYER.key, DOMAIN)
    reference = Account.sign_typed_data(
        PAYER.key, full_message=authorization_typed_data(DOMAIN, auth)
    )
    assert signed.signature == bytes(reference.signature)
    assert recover_signer(DOMAIN.digest(auth.struct_hash()), signed.signature) == PAYER.address
    signed.verify(DOMAIN)


def test_verify_rejects_a_signature_by_someone_else() -> None:
    auth = TransferAuthorization(PAYER.address, PAYEE.address, 1_000, 0, 2**40, random_nonce())
    forged = SignedMessage(auth, auth.sign(PAYEE.key, DOMAIN).signature)
    with pytest.raises(SignatureError, match=f"expected {PAYER.address}"):
        forged.verify(DOMAIN)


def test_verify_rejects_a_signature_from_another_domain() -> None:
    auth = TransferAuthorization(PAYER.address, PAYEE.address, 1_000, 0, 2**40, random_nonce())
    other_chain = Eip712Domain(DOMAIN.name, DOMAIN.version, 1, DOMAIN.verifying_contract)
    with pytest.raises(SignatureError):
        auth.sign(PAYER.key, other_chain).verify(DOMAIN)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (b"\x00" * 64, "must be 65 bytes"),
        (b"\x11" * 64 + b"\x05", "v must be 27 or 28"),
        (b"\x00" * 64 + b"\x1b", "does not recover"),
    ],
)
def test_malformed_signatures_raise_signature_error(signature: bytes, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        recover_signer(b"\x42" * 32, signature)


def test_split_signature_returns_v_r_s() -> None:
    signature = sign_digest(PAYER.key, b"\x07" * 32)
    v, r, s = split_signature(signature)
    assert v in (27, 28)
    assert r + s + bytes([v]) == signature
    with pytest.raises(SignatureError):
        split_signature(signature[:-1])


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("value_base_units", -1, "uint256 range"),
        ("value_base_units", 2**256, "uint256 range"),
        ("nonce", b"\x00" * 31, "32 bytes"),
        ("valid_before", 0, "earlier than"),
    ],
)
def test_authorization_rejects_invalid_fields(field: str, value: object, reason: str) -> None:
    fields: dict[str, object] = {
        "payer": PAYER.address,
        "payee": PAYEE.address,
        "value_base_units": 1,
        "valid_after": 0,
        "valid_before": 10,
        "nonce": b"\x00" * 32,
    }
    fields[field] = value
    with pytest.raises(ValueError, match=reason):
        TransferAuthorization(**fields)  # type: ignore[arg-type]


def test_batch_voucher_and_net_digests_match_eth_account() -> None:
    batch = BatchPayment(PAYER.address, PAYEE.address, 1_500, (7 << 8) | 3, 2**33)
    voucher = Voucher(PAYER.address, b"\x09" * 32, 123_456)
    net = NetPayment(b"\x0a" * 32, PAYER.address, PAYEE.address, 99, 2**34)
    cases = [
        (
            batch,
            {
                "from": batch.payer,
                "to": batch.payee,
                "value": batch.value_base_units,
                "nonce": batch.nonce,
                "validBefore": batch.valid_before,
            },
        ),
        (
            voucher,
            {"channelId": voucher.channel_id, "cumulativeAmount": voucher.cumulative_base_units},
        ),
        (
            net,
            {
                "paymentId": net.payment_id,
                "from": net.payer,
                "to": net.payee,
                "value": net.value_base_units,
                "validBefore": net.valid_before,
            },
        ),
    ]
    for message, values in cases:
        expected = generic_digest(typed_data(DOMAIN, message.TYPE_STRING, values))
        assert DOMAIN.digest(message.struct_hash()) == expected, message.TYPE_STRING
        message.sign(PAYER.key, DOMAIN).verify(DOMAIN)


def test_malleable_high_s_signatures_are_refused() -> None:
    digest = b"\x05" * 32
    signature = sign_digest(PAYER.key, digest)
    v, r, s = split_signature(signature)
    flipped_s = SECP256K1_ORDER - int.from_bytes(s, "big")
    malleable = r + flipped_s.to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    with pytest.raises(SignatureError, match="malleable"):
        recover_signer(digest, malleable)


def test_compact_signature_folds_the_parity_into_s() -> None:
    signature = sign_digest(PAYER.key, b"\x06" * 32)
    v, r, s = split_signature(signature)
    compact_r, vs = compact_signature(signature)
    assert compact_r == r
    assert int.from_bytes(vs, "big") >> 255 == v - 27
    assert int.from_bytes(vs, "big") & ((1 << 255) - 1) == int.from_bytes(s, "big")
