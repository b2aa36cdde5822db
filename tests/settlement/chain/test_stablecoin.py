"""The stablecoin on a real Anvil, driven the way the settlement service drives it.

Signatures here come from eth-account's generic EIP-712 signer, independently of the package's own
encoder, so the contract is checked against the standard rather than against our reading of it.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from settlement.chain.client import ChainClient
from settlement.chain.stablecoin import StablecoinContract
from settlement.domain.messages import (
    AuthorizationKind,
    CancelAuthorization,
    Permit,
    SignedMessage,
    TransferAuthorization,
    random_nonce,
)
from settlement.errors import ContractRevertedError
from tests.conftest import ADMIN_MINT_ALLOWANCE_BASE_UNITS, RecordGas
from tests.settlement.typed_data import (
    authorization_typed_data,
    cancel_typed_data,
    permit_typed_data,
)

pytestmark = pytest.mark.anvil

FUNDING_BASE_UNITS = 5_000_000
PAYMENT_BASE_UNITS = 1_000
ONE_HOUR_S = 3_600


@pytest.fixture
async def payer(coin: StablecoinContract, admin: LocalAccount) -> LocalAccount:
    account: LocalAccount = Account.create()
    await coin.mint(admin, account.address, FUNDING_BASE_UNITS)
    return account


@pytest.fixture
def payee() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


async def signed_authorization(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: str,
    *,
    kind: AuthorizationKind = AuthorizationKind.TRANSFER,
    value: int = PAYMENT_BASE_UNITS,
) -> SignedMessage[TransferAuthorization]:
    now = await coin.client.latest_block_timestamp()
    auth = TransferAuthorization(
        payer.address, payee, value, now - 1, now + ONE_HOUR_S, random_nonce(), kind
    )
    signature = Account.sign_typed_data(
        payer.key, full_message=authorization_typed_data(coin.domain, auth)
    ).signature
    return SignedMessage(auth, bytes(signature))


async def test_deploys_with_six_decimals_and_the_expected_domain(coin: StablecoinContract) -> None:
    assert await coin.total_supply() == 0
    assert await coin.domain_separator() == coin.domain.separator
    assert await coin.minter_allowance(coin.address) == 0


async def test_mint_consumes_the_allowance(
    coin: StablecoinContract, admin: LocalAccount, payee: LocalAccount, record_gas: RecordGas
) -> None:
    receipt = await coin.mint(admin, payee.address, 2_500_000)
    record_gas("mint to a new holder", receipt.gas_used)
    assert await coin.balance_of(payee.address) == 2_500_000
    assert await coin.total_supply() == 2_500_000
    assert await coin.minter_allowance(admin.address) == ADMIN_MINT_ALLOWANCE_BASE_UNITS - 2_500_000


async def test_mint_over_the_allowance_is_refused(
    coin: StablecoinContract, admin: LocalAccount, payee: LocalAccount
) -> None:
    too_much = ADMIN_MINT_ALLOWANCE_BASE_UNITS + 1
    with pytest.raises(ContractRevertedError) as refused:
        await coin.mint(admin, payee.address, too_much)
    assert refused.value.error_name == "MintAllowanceExceeded"
    assert refused.value.arguments == (admin.address, ADMIN_MINT_ALLOWANCE_BASE_UNITS, too_much)
    assert await coin.total_supply() == 0


async def test_transfer_moves_base_units(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: LocalAccount,
    admin: LocalAccount,
    chain: ChainClient,
    record_gas: RecordGas,
) -> None:
    await chain.send_transaction(admin, to=payer.address, value_wei=10**17, gas=21_000)
    first = await coin.transfer(payer, payee.address, PAYMENT_BASE_UNITS)
    second = await coin.transfer(payer, payee.address, PAYMENT_BASE_UNITS)
    record_gas("transfer to a new holder", first.gas_used)
    record_gas("transfer to an existing holder", second.gas_used)
    assert await coin.balance_of(payee.address) == 2 * PAYMENT_BASE_UNITS
    assert await coin.balance_of(payer.address) == FUNDING_BASE_UNITS - 2 * PAYMENT_BASE_UNITS
    # Writing a zero slot costs 17,100 more gas than updating a non-zero one (EIP-2200/3529).
    assert first.gas_used - second.gas_used == 17_100


async def test_permit_signed_with_eth_account_sets_the_allowance(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: LocalAccount,
    admin: LocalAccount,
    record_gas: RecordGas,
) -> None:
    deadline = await coin.client.latest_block_timestamp() + ONE_HOUR_S
    permit = Permit(
        payer.address, admin.address, 700_000, await coin.permit_nonce(payer.address), deadline
    )
    signature = Account.sign_typed_data(
        payer.key, full_message=permit_typed_data(coin.domain, permit)
    )
    receipt = await coin.permit(admin, SignedMessage(permit, bytes(signature.signature)))
    record_gas("permit (relayed)", receipt.gas_used)
    assert await coin.allowance(payer.address, admin.address) == 700_000
    assert await coin.permit_nonce(payer.address) == 1
    await coin.transfer_from(admin, payer.address, payee.address, 700_000)
    assert await coin.balance_of(payee.address) == 700_000
    with pytest.raises(ContractRevertedError) as replayed:
        await coin.permit(admin, SignedMessage(permit, bytes(signature.signature)))
    assert replayed.value.error_name == "InvalidSignature"


async def test_eip3009_authorization_signed_with_eth_account_is_accepted(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: LocalAccount,
    admin: LocalAccount,
    record_gas: RecordGas,
) -> None:
    signed = await signed_authorization(coin, payer, payee.address)
    signed.verify(coin.domain)
    receipt = await coin.transfer_with_authorization(admin, signed)
    record_gas("transferWithAuthorization (relayed, new holder)", receipt.gas_used)
    assert await coin.balance_of(payee.address) == PAYMENT_BASE_UNITS
    assert await coin.authorization_used(payer.address, signed.message.nonce)


async def test_replayed_authorization_is_rejected(
    coin: StablecoinContract, payer: LocalAccount, payee: LocalAccount, admin: LocalAccount
) -> None:
    signed = await signed_authorization(coin, payer, payee.address)
    await coin.transfer_with_authorization(admin, signed)
    with pytest.raises(ContractRevertedError) as replayed:
        await coin.transfer_with_authorization(admin, signed)
    assert replayed.value.error_name == "AuthorizationAlreadyUsed"
    assert replayed.value.arguments == (payer.address, "0x" + signed.message.nonce.hex())
    assert await coin.balance_of(payee.address) == PAYMENT_BASE_UNITS


async def test_cancelled_authorization_is_rejected(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: LocalAccount,
    admin: LocalAccount,
    record_gas: RecordGas,
) -> None:
    signed = await signed_authorization(coin, payer, payee.address)
    cancel = CancelAuthorization(payer.address, signed.message.nonce)
    cancel_signature = Account.sign_typed_data(
        payer.key, full_message=cancel_typed_data(coin.domain, cancel)
    )
    receipt = await coin.cancel_authorization(
        admin, SignedMessage(cancel, bytes(cancel_signature.signature))
    )
    record_gas("cancelAuthorization (relayed)", receipt.gas_used)
    with pytest.raises(ContractRevertedError, match="AuthorizationAlreadyUsed"):
        await coin.transfer_with_authorization(admin, signed)
    assert await coin.balance_of(payee.address) == 0


async def test_authorization_signed_by_someone_else_is_rejected(
    coin: StablecoinContract, payer: LocalAccount, payee: LocalAccount, admin: LocalAccount
) -> None:
    genuine = await signed_authorization(coin, payer, payee.address)
    forged = SignedMessage(genuine.message, genuine.message.sign(payee.key, coin.domain).signature)
    with pytest.raises(ContractRevertedError) as rejected:
        await coin.transfer_with_authorization(admin, forged)
    assert rejected.value.error_name == "InvalidSignature"
    assert rejected.value.arguments == (payer.address,)


async def test_receive_authorization_must_be_submitted_by_the_payee(
    coin: StablecoinContract, payer: LocalAccount, payee: LocalAccount, admin: LocalAccount
) -> None:
    signed = await signed_authorization(coin, payer, payee.address, kind=AuthorizationKind.RECEIVE)
    with pytest.raises(ContractRevertedError) as rejected:
        await coin.transfer_with_authorization(admin, signed)
    assert rejected.value.error_name == "CallerMustBePayee"
    assert rejected.value.arguments == (admin.address, payee.address)


async def test_pause_stops_transfers_and_authorizations(
    coin: StablecoinContract, payer: LocalAccount, payee: LocalAccount, admin: LocalAccount
) -> None:
    signed = await signed_authorization(coin, payer, payee.address)
    await coin.pause(admin)
    with pytest.raises(ContractRevertedError, match="EnforcedPause"):
        await coin.transfer_with_authorization(admin, signed)
    with pytest.raises(ContractRevertedError, match="EnforcedPause"):
        await coin.mint(admin, payee.address, 1)
    await coin.unpause(admin)
    await coin.transfer_with_authorization(admin, signed)
    assert await coin.balance_of(payee.address) == PAYMENT_BASE_UNITS


@pytest.mark.parametrize("blocked", ["payer", "payee"])
async def test_blocklisted_accounts_can_neither_send_nor_receive(
    coin: StablecoinContract,
    payer: LocalAccount,
    payee: LocalAccount,
    admin: LocalAccount,
    blocked: str,
) -> None:
    blocked_address = payer.address if blocked == "payer" else payee.address
    signed = await signed_authorization(coin, payer, payee.address)
    await coin.blocklist(admin, blocked_address)
    with pytest.raises(ContractRevertedError) as rejected:
        await coin.transfer_with_authorization(admin, signed)
    assert rejected.value.error_name == "AccountBlocklisted"
    assert rejected.value.arguments == (blocked_address,)
    assert not await coin.authorization_used(payer.address, signed.message.nonce)
