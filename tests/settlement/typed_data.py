"""EIP-712 messages built the generic way, through eth-account, to check our own encoder against."""

from __future__ import annotations

from typing import Any

from settlement.domain.eip712 import Eip712Domain
from settlement.domain.messages import CancelAuthorization, Permit, TransferAuthorization

DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
AUTHORIZATION_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


def typed_data(domain: Eip712Domain, type_string: str, values: dict[str, Any]) -> dict[str, Any]:
    """Typed data for any struct, its fields parsed from the type string itself."""
    primary_type, _, field_list = type_string.rstrip(")").partition("(")
    fields = [
        {"name": name, "type": kind}
        for kind, name in (field.split(" ") for field in field_list.split(","))
    ]
    return _full_message(domain, primary_type, fields, values)


def _full_message(
    domain: Eip712Domain, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_FIELDS, primary_type: fields},
        "primaryType": primary_type,
        "domain": domain.as_typed_data(),
        "message": message,
    }


def authorization_typed_data(domain: Eip712Domain, auth: TransferAuthorization) -> dict[str, Any]:
    return _full_message(
        domain,
        auth.kind.value,
        AUTHORIZATION_FIELDS,
        {
            "from": auth.payer,
            "to": auth.payee,
            "value": auth.value_base_units,
            "validAfter": auth.valid_after,
            "validBefore": auth.valid_before,
            "nonce": auth.nonce,
        },
    )


def cancel_typed_data(domain: Eip712Domain, cancel: CancelAuthorization) -> dict[str, Any]:
    return _full_message(
        domain,
        "CancelAuthorization",
        [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}],
        {"authorizer": cancel.authorizer, "nonce": cancel.nonce},
    )


def permit_typed_data(domain: Eip712Domain, permit: Permit) -> dict[str, Any]:
    return _full_message(
        domain,
        "Permit",
        [
            {"name": "owner", "type": "address"},
            {"name": "spender", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint256"},
        ],
        {
            "owner": permit.owner,
            "spender": permit.spender,
            "value": permit.value_base_units,
            "nonce": permit.nonce,
            "deadline": permit.deadline,
        },
    )
