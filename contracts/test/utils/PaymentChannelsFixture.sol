// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PaymentChannels} from "../../src/PaymentChannels.sol";
import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {SettlementTokenFixture} from "./SettlementTokenFixture.sol";

/// @title PaymentChannelsFixture
/// @notice A deployed {PaymentChannels} over the real stablecoin, funded payers with keys, and
/// helpers to open, top up, sign vouchers and claim.
/// @dev Channel ids, nonces and voucher digests are rebuilt here from the specification (the
/// EIP-712 type string and domain), never read from the contract under test.
abstract contract PaymentChannelsFixture is SettlementTokenFixture {
    string internal constant CHANNELS_NAME = "Robot Payment Channels";
    string internal constant CHANNELS_VERSION = "1";
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");

    uint64 internal constant CHALLENGE_PERIOD = 1 days;
    uint256 internal constant PAYER_BALANCE = 10_000e6;
    uint256 internal constant DEPOSIT = 100e6;
    bytes32 internal constant SALT = keccak256("salt-1");
    bytes32 internal constant TOP_UP_SALT = keccak256("top-up-1");

    /// @dev The largest storable deposit.
    uint256 internal constant MAX_DEPOSIT = type(uint96).max;

    PaymentChannels internal channels;

    /// @dev Payers, with keys to sign authorizations and vouchers.
    address internal alice;
    uint256 internal aliceKey;
    address internal carol;
    uint256 internal carolKey;
    /// @dev Payees.
    address internal bob;
    address internal dave;
    /// @dev Submits transactions for others; never a party to a channel.
    address internal relayer;

    function setUp() public virtual {
        vm.warp(START_TIME);
        _deployToken();
        channels = new PaymentChannels(address(token), CHALLENGE_PERIOD);
        vm.label(address(channels), "PaymentChannels");

        (alice, aliceKey) = makeAddrAndKey("alice");
        (carol, carolKey) = makeAddrAndKey("carol");
        bob = makeAddr("bob");
        dave = makeAddr("dave");
        relayer = makeAddr("relayer");
        _mint(alice, PAYER_BALANCE);
        _mint(carol, PAYER_BALANCE);
    }

    // ---------------------------------------------------------------- ids and digests

    function _channelId(address payer, address payee, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(payer, payee, salt));
    }

    function _topUpNonce(bytes32 channelId, bytes32 topUpSalt) internal pure returns (bytes32) {
        return keccak256(abi.encode(channelId, topUpSalt));
    }

    function _channelsDomainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256(bytes(CHANNELS_NAME)),
                keccak256(bytes(CHANNELS_VERSION)),
                block.chainid,
                address(channels)
            )
        );
    }

    function _voucherDigest(bytes32 channelId, uint256 cumulativeAmount) internal view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount));
        return keccak256(abi.encodePacked("\x19\x01", _channelsDomainSeparator(), structHash));
    }

    // ---------------------------------------------------------------- signing

    /// @notice `key`'s EIP-2098 compact signature of a voucher: `vs` is `s` with `v - 27` in its top bit.
    function _signVoucher(uint256 key, bytes32 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (bytes32 r, bytes32 vs)
    {
        uint8 v;
        bytes32 s;
        (v, r, s) = vm.sign(key, _voucherDigest(channelId, cumulativeAmount));
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }

    function _voucher(uint256 key, bytes32 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (IPaymentChannels.VoucherClaim memory claim)
    {
        claim.channelId = channelId;
        claim.cumulativeAmount = cumulativeAmount;
        (claim.r, claim.vs) = _signVoucher(key, channelId, cumulativeAmount);
    }

    // ---------------------------------------------------------------- actions

    /// @notice The payer with `payerKey` opens a channel to `payee`; the relayer submits it.
    function _open(uint256 payerKey, address payee, bytes32 salt, uint256 deposit) internal returns (bytes32) {
        address payer = vm.addr(payerKey);
        bytes memory signature = _receiveSignature(payerKey, address(channels), deposit, _channelId(payer, payee, salt));
        vm.prank(relayer);
        return channels.open(payer, payee, salt, deposit, _validAfter(), _validBefore(), signature);
    }

    /// @notice Alice opens a channel to Bob with `DEPOSIT` and `SALT`.
    function _openDefault() internal returns (bytes32) {
        return _open(aliceKey, bob, SALT, DEPOSIT);
    }

    function _topUp(uint256 payerKey, bytes32 channelId, bytes32 topUpSalt, uint256 amount) internal {
        bytes memory signature =
            _receiveSignature(payerKey, address(channels), amount, _topUpNonce(channelId, topUpSalt));
        vm.prank(relayer);
        channels.topUp(channelId, topUpSalt, amount, _validAfter(), _validBefore(), signature);
    }

    /// @notice The relayer claims a single voucher.
    function _claimOne(IPaymentChannels.VoucherClaim memory voucher) internal returns (uint256 paid) {
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](1);
        claims[0] = voucher;
        vm.prank(relayer);
        return channels.claim(claims);
    }

    // ---------------------------------------------------------------- assertions

    function _assertChannel(
        bytes32 channelId,
        address payer,
        address payee,
        uint256 deposit,
        uint256 claimed,
        uint256 withdrawableAt
    ) internal view {
        (address storedPayer, address storedPayee, uint256 storedDeposit, uint256 storedClaimed, uint64 storedAt) =
            channels.channel(channelId);
        assertEq(storedPayer, payer, "payer");
        assertEq(storedPayee, payee, "payee");
        assertEq(storedDeposit, deposit, "deposit");
        assertEq(storedClaimed, claimed, "claimed");
        assertEq(uint256(storedAt), withdrawableAt, "withdrawableAt");
    }

    function _assertChannelDeleted(bytes32 channelId) internal view {
        _assertChannel(channelId, address(0), address(0), 0, 0, 0);
    }
}
