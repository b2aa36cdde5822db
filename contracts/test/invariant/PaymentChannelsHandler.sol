// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {PaymentChannels} from "../../src/PaymentChannels.sol";
import {Stablecoin} from "../../src/Stablecoin.sol";
import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {StablecoinTypedData} from "../utils/StablecoinTypedData.sol";
import {Test} from "../utils/Test.sol";

/// @title PaymentChannelsHandler
/// @notice The invariant fuzzer's only target for {PaymentChannels}. It opens, tops up, claims,
/// closes and withdraws channels between a few payers and payees, puts payees on and off the
/// token's blocklist (it holds the blocklister role), keeps its own model of every
/// channel, and counts every token deposited, paid and refunded, so the invariants can compare the
/// contract with the model and check that no token appears or disappears.
/// @dev Every action is bounded to what must succeed; the few calls expected to fail are made in
/// try/catch and checked against the exact error. Anything unexpected increments
/// `ghostUnexpectedOutcomes`, which must stay zero. The payee is assumed to hold every voucher up
/// to the channel's latest, so claims use the latest voucher, an older one, or a forged one.
contract PaymentChannelsHandler is Test {
    uint256 internal constant PAYER_COUNT = 3;
    uint256 internal constant PAYEE_COUNT = 3;
    uint256 internal constant MAX_CHANNELS = 16;
    uint256 internal constant MAX_AMOUNT = 1_000e6;
    uint256 internal constant MAX_BATCH = 4;
    string internal constant CHANNELS_NAME = "Robot Payment Channels";

    struct ChannelModel {
        uint256 payerKey;
        address payer;
        address payee;
        uint256 deposit;
        uint256 claimed;
        /// @dev The largest voucher the payer has signed; may exceed the deposit (overspending).
        uint256 latestVoucher;
        uint64 withdrawableAt;
        bool open;
    }

    PaymentChannels public immutable channels;
    Stablecoin public immutable token;
    address public immutable minter;
    string internal _tokenName;
    uint64 internal immutable _challengePeriod;

    uint256[] internal _payerKeys;
    address[] internal _payers;
    address[] internal _payees;
    bytes32[] internal _channelIds;
    mapping(bytes32 channelId => ChannelModel) internal _models;
    uint256 internal _saltCounter;

    uint256 public ghostMinted;
    uint256 public ghostDeposited;
    uint256 public ghostPaid;
    uint256 public ghostRefunded;
    uint256 public ghostUnexpectedOutcomes;

    constructor(PaymentChannels channels_, Stablecoin token_, string memory tokenName_, address minter_) {
        channels = channels_;
        token = token_;
        _tokenName = tokenName_;
        minter = minter_;
        _challengePeriod = channels_.challengePeriodSeconds();
        for (uint256 i = 0; i < PAYER_COUNT; ++i) {
            (address payer, uint256 key) = makeAddrAndKey(string.concat("payer", Strings.toString(i)));
            _payers.push(payer);
            _payerKeys.push(key);
        }
        for (uint256 i = 0; i < PAYEE_COUNT; ++i) {
            _payees.push(makeAddr(string.concat("payee", Strings.toString(i))));
        }
    }

    // ---------------------------------------------------------------- views for the invariants

    function channelIds() external view returns (bytes32[] memory) {
        return _channelIds;
    }

    function payers() external view returns (address[] memory) {
        return _payers;
    }

    function payees() external view returns (address[] memory) {
        return _payees;
    }

    function model(bytes32 channelId) external view returns (ChannelModel memory) {
        return _models[channelId];
    }

    // ---------------------------------------------------------------- actions

    function open(uint256 payerSeed, uint256 payeeSeed, uint256 amount) external {
        if (_channelIds.length >= MAX_CHANNELS) return;
        uint256 payerIndex = payerSeed % PAYER_COUNT;
        uint256 payerKey = _payerKeys[payerIndex];
        address payer = _payers[payerIndex];
        address payee = _payees[payeeSeed % PAYEE_COUNT];
        amount = bound(amount, 1, MAX_AMOUNT);
        bytes32 salt = keccak256(abi.encode("salt", ++_saltCounter));
        bytes32 channelId = keccak256(abi.encode(payer, payee, salt));
        _fund(payer, amount);

        bytes memory signature = _receiveSignature(payerKey, amount, channelId);
        bytes32 returned =
            channels.open(payer, payee, salt, amount, block.timestamp - 1, block.timestamp + 1 hours, signature);
        if (returned != channelId) ++ghostUnexpectedOutcomes;

        _channelIds.push(channelId);
        _models[channelId] = ChannelModel({
            payerKey: payerKey,
            payer: payer,
            payee: payee,
            deposit: amount,
            claimed: 0,
            latestVoucher: 0,
            withdrawableAt: 0,
            open: true
        });
        ghostDeposited += amount;
    }

    function topUp(uint256 channelSeed, uint256 amount) external {
        (bool found, bytes32 channelId) = _openChannel(channelSeed);
        if (!found) return;
        ChannelModel storage entry = _models[channelId];
        amount = bound(amount, 1, MAX_AMOUNT);
        bytes32 topUpSalt = keccak256(abi.encode("top-up", ++_saltCounter));
        _fund(entry.payer, amount);

        bytes memory signature = _receiveSignature(entry.payerKey, amount, keccak256(abi.encode(channelId, topUpSalt)));
        channels.topUp(channelId, topUpSalt, amount, block.timestamp - 1, block.timestamp + 1 hours, signature);
        entry.deposit += amount;
        ghostDeposited += amount;
    }

    /// @notice The payer pays more off-chain: its latest voucher grows, sometimes past the deposit.
    function pay(uint256 channelSeed, uint256 increment) external {
        (bool found, bytes32 channelId) = _openChannel(channelSeed);
        if (!found) return;
        ChannelModel storage entry = _models[channelId];
        entry.latestVoucher += bound(increment, 0, entry.deposit / 2 + 1);
    }

    /// @notice A relayer claims up to MAX_BATCH vouchers of any channels, open or not.
    function claim(uint256[MAX_BATCH] calldata channelSeeds, uint256[MAX_BATCH] calldata kindSeeds, uint256 size)
        external
    {
        if (_channelIds.length == 0) return;
        size = bound(size, 1, MAX_BATCH);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](size);
        uint256 expectedTotal;
        for (uint256 i = 0; i < size; ++i) {
            bytes32 channelId = _channelIds[channelSeeds[i] % _channelIds.length];
            claims[i] = _someVoucher(channelId, kindSeeds[i]);
            expectedTotal += _applyClaimToModel(channelId, claims[i].cumulativeAmount, kindSeeds[i] % 4 == 3);
        }

        uint256 paidTotal = channels.claim(claims);
        if (paidTotal != expectedTotal) ++ghostUnexpectedOutcomes;
        ghostPaid += paidTotal;
    }

    /// @notice The token's blocklister puts a payee on the blocklist, or takes it off: claims to it
    /// must then be skipped without holding up the rest of their batch, and pay again after.
    function setPayeeBlocklisted(uint256 payeeSeed, bool blocked) external {
        address payee = _payees[payeeSeed % PAYEE_COUNT];
        if (blocked) token.blocklist(payee);
        else token.unblocklist(payee);
    }

    /// @notice The payee closes with a voucher between what it claimed and what the deposit allows.
    /// A blocklisted payee cannot be paid, so it does not close (the token would revert).
    function closeCooperatively(uint256 channelSeed, uint256 amountSeed) external {
        (bool found, bytes32 channelId) = _openChannel(channelSeed);
        if (!found) return;
        ChannelModel storage entry = _models[channelId];
        if (token.isBlocklisted(entry.payee)) return;
        uint256 ceiling = entry.latestVoucher < entry.deposit ? entry.latestVoucher : entry.deposit;
        uint256 amount = bound(amountSeed, entry.claimed, ceiling);
        (bytes32 r, bytes32 vs) = _signVoucher(entry.payerKey, channelId, amount);

        vm.prank(entry.payee);
        channels.closeCooperatively(channelId, amount, r, vs);
        ghostPaid += amount - entry.claimed;
        ghostRefunded += entry.deposit - amount;
        entry.claimed = amount;
        entry.open = false;
    }

    function requestWithdrawal(uint256 channelSeed) external {
        (bool found, bytes32 channelId) = _openChannel(channelSeed, false);
        if (!found) return;
        ChannelModel storage entry = _models[channelId];
        vm.prank(entry.payer);
        channels.requestWithdrawal(channelId);
        entry.withdrawableAt = uint64(block.timestamp) + _challengePeriod;
    }

    /// @notice Time passes, then the payer tries to withdraw; too early must fail, exactly so.
    function withdraw(uint256 channelSeed, uint256 waitSeed) external {
        (bool found, bytes32 channelId) = _openChannel(channelSeed, true);
        if (!found) return;
        ChannelModel storage entry = _models[channelId];
        vm.warp(block.timestamp + bound(waitSeed, 0, 2 * uint256(_challengePeriod)));

        vm.prank(entry.payer);
        try channels.withdraw(channelId) {
            if (block.timestamp < entry.withdrawableAt) ++ghostUnexpectedOutcomes;
            ghostRefunded += entry.deposit - entry.claimed;
            entry.open = false;
        } catch (bytes memory reason) {
            bytes memory early = abi.encodeWithSelector(
                IPaymentChannels.WithdrawalNotReady.selector, channelId, entry.withdrawableAt, block.timestamp
            );
            if (block.timestamp >= entry.withdrawableAt || keccak256(reason) != keccak256(early)) {
                ++ghostUnexpectedOutcomes;
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _fund(address payer, uint256 amount) internal {
        vm.prank(minter);
        token.mint(payer, amount);
        ghostMinted += amount;
    }

    /// @dev An open channel chosen by `seed`, searching forward from it.
    function _openChannel(uint256 seed) internal view returns (bool found, bytes32 channelId) {
        uint256 count = _channelIds.length;
        for (uint256 k = 0; k < count; ++k) {
            channelId = _channelIds[(seed % count + k) % count];
            if (_models[channelId].open) return (true, channelId);
        }
        return (false, bytes32(0));
    }

    /// @dev As `_openChannel`, restricted to channels with (or without) a withdrawal request.
    function _openChannel(uint256 seed, bool withdrawalRequested)
        internal
        view
        returns (bool found, bytes32 channelId)
    {
        uint256 count = _channelIds.length;
        for (uint256 k = 0; k < count; ++k) {
            channelId = _channelIds[(seed % count + k) % count];
            ChannelModel storage entry = _models[channelId];
            if (entry.open && (entry.withdrawableAt != 0) == withdrawalRequested) return (true, channelId);
        }
        return (false, bytes32(0));
    }

    /// @dev Kind 0 and 1: the latest voucher; 2: an older one; 3: forged by another payer's key.
    function _someVoucher(bytes32 channelId, uint256 kindSeed)
        internal
        view
        returns (IPaymentChannels.VoucherClaim memory voucher)
    {
        ChannelModel storage entry = _models[channelId];
        uint256 kind = kindSeed % 4;
        uint256 amount = kind == 2 ? (kindSeed >> 8) % (entry.latestVoucher + 1) : entry.latestVoucher;
        uint256 key = kind == 3 ? _otherKey(entry.payerKey) : entry.payerKey;
        voucher.channelId = channelId;
        voucher.cumulativeAmount = amount;
        (voucher.r, voucher.vs) = _signVoucher(key, channelId, amount);
    }

    /// @dev What the contract must pay for this voucher, applied to the model in batch order.
    function _applyClaimToModel(bytes32 channelId, uint256 amount, bool forged) internal returns (uint256 paid) {
        ChannelModel storage entry = _models[channelId];
        if (!entry.open || forged || amount <= entry.claimed || amount > entry.deposit) return 0;
        if (token.isBlocklisted(entry.payee)) return 0;
        paid = amount - entry.claimed;
        entry.claimed = amount;
    }

    function _otherKey(uint256 key) internal view returns (uint256) {
        for (uint256 i = 0; i < PAYER_COUNT; ++i) {
            if (_payerKeys[i] != key) return _payerKeys[i];
        }
        return key;
    }

    function _receiveSignature(uint256 payerKey, uint256 amount, bytes32 nonce) internal view returns (bytes memory) {
        bytes32 structHash = StablecoinTypedData.authorizationStructHash(
            StablecoinTypedData.RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            vm.addr(payerKey),
            address(channels),
            amount,
            block.timestamp - 1,
            block.timestamp + 1 hours,
            nonce
        );
        bytes32 separator = StablecoinTypedData.domainSeparator(_tokenName, address(token));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(payerKey, StablecoinTypedData.digest(separator, structHash));
        return abi.encodePacked(r, s, v);
    }

    function _signVoucher(uint256 key, bytes32 channelId, uint256 amount)
        internal
        view
        returns (bytes32 r, bytes32 vs)
    {
        bytes32 separator = keccak256(
            abi.encode(
                StablecoinTypedData.EIP712_DOMAIN_TYPEHASH,
                keccak256(bytes(CHANNELS_NAME)),
                keccak256("1"),
                block.chainid,
                address(channels)
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)"), channelId, amount));
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, StablecoinTypedData.digest(separator, structHash));
        r = rr;
        vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
    }
}
