// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {PaymentChannels} from "../../src/PaymentChannels.sol";
import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {PaymentChannelsFixture} from "../utils/PaymentChannelsFixture.sol";

/// @notice Deployment, views, opening channels and topping them up.
contract PaymentChannelsOpenTest is PaymentChannelsFixture {
    uint256 internal constant TOP_UP = 40e6;

    // ---------------------------------------------------------------- constructor and views

    function test_Constructor() public view {
        assertEq(channels.token(), address(token), "token");
        assertEq(uint256(channels.challengePeriodSeconds()), CHALLENGE_PERIOD, "challenge period");
        assertEq(channels.MAX_CLAIMS_PER_CALL(), 256, "max claims");
        assertEq(uint256(channels.MAX_CHALLENGE_PERIOD_SECONDS()), 365 days, "max challenge period");
    }

    function test_Constructor_Eip712Domain() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            channels.eip712Domain();
        assertEq(name, CHANNELS_NAME);
        assertEq(version, CHANNELS_VERSION);
        assertEq(chainId, block.chainid, "chain id");
        assertEq(verifyingContract, address(channels), "verifying contract");
    }

    function test_Constructor_LongestChallengePeriod() public {
        PaymentChannels deployed = new PaymentChannels(address(token), 365 days);
        assertEq(uint256(deployed.challengePeriodSeconds()), 365 days);
    }

    function test_RevertWhen_ConstructorTokenIsZero() public {
        vm.expectRevert(IPaymentChannels.ZeroAddress.selector);
        new PaymentChannels(address(0), CHALLENGE_PERIOD);
    }

    function test_RevertWhen_ConstructorChallengePeriodIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidChallengePeriod.selector, 0, 365 days));
        new PaymentChannels(address(token), 0);
    }

    function test_RevertWhen_ConstructorChallengePeriodTooLong() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.InvalidChallengePeriod.selector, 365 days + 1, 365 days)
        );
        new PaymentChannels(address(token), 365 days + 1);
    }

    function test_VoucherTypehash() public view {
        assertEq(channels.VOUCHER_TYPEHASH(), VOUCHER_TYPEHASH);
    }

    function test_VoucherDigest() public view {
        bytes32 channelId = _channelId(alice, bob, SALT);
        assertEq(channels.voucherDigest(channelId, 12345), _voucherDigest(channelId, 12345));
    }

    function test_VoucherDigest_FollowsTheChainId() public {
        bytes32 channelId = _channelId(alice, bob, SALT);
        bytes32 before = channels.voucherDigest(channelId, 1);
        vm.chainId(block.chainid + 1);
        bytes32 afterFork = channels.voucherDigest(channelId, 1);
        assertTrue(before != afterFork, "digest changed with the chain");
        assertEq(afterFork, _voucherDigest(channelId, 1));
    }

    function test_ComputeChannelId() public view {
        assertEq(channels.computeChannelId(alice, bob, SALT), _channelId(alice, bob, SALT));
    }

    function test_TopUpNonce() public view {
        bytes32 channelId = _channelId(alice, bob, SALT);
        assertEq(channels.topUpNonce(channelId, TOP_UP_SALT), _topUpNonce(channelId, TOP_UP_SALT));
    }

    function test_Channel_UnknownIsAllZero() public view {
        _assertChannelDeleted(_channelId(alice, bob, SALT));
    }

    // ---------------------------------------------------------------- open

    function test_Open() public {
        bytes32 expectedId = _channelId(alice, bob, SALT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, expectedId);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelOpened(expectedId, alice, bob, SALT, DEPOSIT);
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationUsed(alice, expectedId);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, address(channels), DEPOSIT);
        vm.prank(relayer);
        bytes32 channelId = channels.open(alice, bob, SALT, DEPOSIT, _validAfter(), _validBefore(), signature);

        assertEq(channelId, expectedId, "channel id");
        _assertChannel(channelId, alice, bob, DEPOSIT, 0, 0);
        assertEq(token.balanceOf(address(channels)), DEPOSIT, "escrowed");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - DEPOSIT, "payer");
        assertEq(token.balanceOf(relayer), 0, "relayer untouched");
        assertTrue(token.authorizationState(alice, channelId), "nonce spent");
    }

    function test_Open_SubmittedByThePayer() public {
        bytes32 channelId = _channelId(alice, bob, SALT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, channelId);
        vm.prank(alice);
        channels.open(alice, bob, SALT, DEPOSIT, _validAfter(), _validBefore(), signature);
        _assertChannel(channelId, alice, bob, DEPOSIT, 0, 0);
    }

    function test_Open_ManyChannelsForOnePair() public {
        bytes32 first = _open(aliceKey, bob, SALT, DEPOSIT);
        bytes32 second = _open(aliceKey, bob, keccak256("salt-2"), 2 * DEPOSIT);
        assertTrue(first != second, "distinct ids");
        _assertChannel(first, alice, bob, DEPOSIT, 0, 0);
        _assertChannel(second, alice, bob, 2 * DEPOSIT, 0, 0);
        assertEq(token.balanceOf(address(channels)), 3 * DEPOSIT, "escrowed");
    }

    function test_Open_PayerMayPayItself() public {
        bytes32 channelId = _open(aliceKey, alice, SALT, DEPOSIT);
        _assertChannel(channelId, alice, alice, DEPOSIT, 0, 0);
    }

    function test_Open_LargestDeposit() public {
        _mint(alice, MAX_DEPOSIT);
        bytes32 channelId = _open(aliceKey, bob, SALT, MAX_DEPOSIT);
        _assertChannel(channelId, alice, bob, MAX_DEPOSIT, 0, 0);
    }

    function test_RevertWhen_OpenPayerIsZero() public {
        vm.expectRevert(IPaymentChannels.ZeroAddress.selector);
        channels.open(address(0), bob, SALT, DEPOSIT, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenPayeeIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidPayee.selector, address(0)));
        channels.open(alice, address(0), SALT, DEPOSIT, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenPayeeIsTheContract() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidPayee.selector, address(channels)));
        channels.open(alice, address(channels), SALT, DEPOSIT, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenDepositIsZero() public {
        vm.expectRevert(IPaymentChannels.ZeroAmount.selector);
        channels.open(alice, bob, SALT, 0, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenDepositTooLarge() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.DepositTooLarge.selector, 0, MAX_DEPOSIT + 1, MAX_DEPOSIT)
        );
        channels.open(alice, bob, SALT, MAX_DEPOSIT + 1, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenChannelAlreadyOpen() public {
        bytes32 channelId = _openDefault();
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelAlreadyExists.selector, channelId));
        channels.open(alice, bob, SALT, DEPOSIT, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_OpenRedirectedToAnotherPayee() public {
        // The relayer tries to point Alice's deposit, signed for a channel to Bob, at itself.
        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, _channelId(alice, bob, SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        vm.prank(relayer);
        channels.open(alice, relayer, SALT, DEPOSIT, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_OpenWithAnotherSalt() public {
        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, _channelId(alice, bob, SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        channels.open(alice, bob, keccak256("other salt"), DEPOSIT, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_OpenDepositDiffersFromSigned() public {
        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, _channelId(alice, bob, SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        channels.open(alice, bob, SALT, DEPOSIT + 1, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_OpenSignedByAnotherKey() public {
        bytes memory signature = _receiveSignature(carolKey, address(channels), DEPOSIT, _channelId(alice, bob, SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        channels.open(alice, bob, SALT, DEPOSIT, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_OpenAuthorizationExpired() public {
        uint256 validBefore = block.timestamp + 10;
        bytes memory signature = _receiveSignature(
            aliceKey, address(channels), DEPOSIT, _validAfter(), validBefore, _channelId(alice, bob, SALT)
        );
        vm.warp(validBefore);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, validBefore, validBefore));
        channels.open(alice, bob, SALT, DEPOSIT, START_TIME - 1, validBefore, signature);
    }

    function test_RevertWhen_OpenPayerLacksFunds() public {
        bytes32 channelId = _channelId(alice, bob, SALT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), PAYER_BALANCE + 1, channelId);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, PAYER_BALANCE, PAYER_BALANCE + 1
            )
        );
        channels.open(alice, bob, SALT, PAYER_BALANCE + 1, _validAfter(), _validBefore(), signature);
        _assertChannelDeleted(channelId);
    }

    function test_RevertWhen_OpenAgainAfterTheChannelWasClosed() public {
        // A channel id is also its funding nonce, so it can never be reused and old vouchers for it
        // can never be paid from a new deposit.
        bytes32 channelId = _openDefault();
        (bytes32 r, bytes32 vs) = _signVoucher(aliceKey, channelId, 0);
        vm.prank(bob);
        channels.closeCooperatively(channelId, 0, r, vs);

        bytes memory signature = _receiveSignature(aliceKey, address(channels), DEPOSIT, channelId);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, alice, channelId));
        channels.open(alice, bob, SALT, DEPOSIT, _validAfter(), _validBefore(), signature);
    }

    // ---------------------------------------------------------------- topUp

    function test_TopUp() public {
        bytes32 channelId = _openDefault();
        bytes32 nonce = _topUpNonce(channelId, TOP_UP_SALT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), TOP_UP, nonce);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelToppedUp(channelId, TOP_UP_SALT, TOP_UP, DEPOSIT + TOP_UP);
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationUsed(alice, nonce);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, address(channels), TOP_UP);
        vm.prank(relayer);
        channels.topUp(channelId, TOP_UP_SALT, TOP_UP, _validAfter(), _validBefore(), signature);

        _assertChannel(channelId, alice, bob, DEPOSIT + TOP_UP, 0, 0);
        assertEq(token.balanceOf(address(channels)), DEPOSIT + TOP_UP, "escrowed");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - DEPOSIT - TOP_UP, "payer");
    }

    function test_TopUp_TwiceWithDifferentSalts() public {
        bytes32 channelId = _openDefault();
        _topUp(aliceKey, channelId, TOP_UP_SALT, TOP_UP);
        _topUp(aliceKey, channelId, keccak256("top-up-2"), 1);
        _assertChannel(channelId, alice, bob, DEPOSIT + TOP_UP + 1, 0, 0);
    }

    function test_TopUp_AfterAClaim() public {
        bytes32 channelId = _openDefault();
        _claimOne(_voucher(aliceKey, channelId, 30e6));
        _topUp(aliceKey, channelId, TOP_UP_SALT, TOP_UP);
        _assertChannel(channelId, alice, bob, DEPOSIT + TOP_UP, 30e6, 0);
    }

    function test_TopUp_KeepsAPendingWithdrawal() public {
        bytes32 channelId = _openDefault();
        vm.prank(alice);
        channels.requestWithdrawal(channelId);
        _topUp(aliceKey, channelId, TOP_UP_SALT, TOP_UP);
        _assertChannel(channelId, alice, bob, DEPOSIT + TOP_UP, 0, block.timestamp + CHALLENGE_PERIOD);
    }

    function test_TopUp_UpToTheLargestDeposit() public {
        bytes32 channelId = _openDefault();
        _mint(alice, MAX_DEPOSIT);
        _topUp(aliceKey, channelId, TOP_UP_SALT, MAX_DEPOSIT - DEPOSIT);
        _assertChannel(channelId, alice, bob, MAX_DEPOSIT, 0, 0);
    }

    function test_RevertWhen_TopUpUnknownChannel() public {
        bytes32 channelId = _channelId(alice, bob, SALT);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, channelId));
        channels.topUp(channelId, TOP_UP_SALT, TOP_UP, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_TopUpAmountIsZero() public {
        bytes32 channelId = _openDefault();
        vm.expectRevert(IPaymentChannels.ZeroAmount.selector);
        channels.topUp(channelId, TOP_UP_SALT, 0, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_TopUpExceedsTheLargestDeposit() public {
        bytes32 channelId = _openDefault();
        uint256 amount = MAX_DEPOSIT - DEPOSIT + 1;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.DepositTooLarge.selector, DEPOSIT, amount, MAX_DEPOSIT));
        channels.topUp(channelId, TOP_UP_SALT, amount, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_TopUpAmountWouldOverflow() public {
        bytes32 channelId = _openDefault();
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.DepositTooLarge.selector, DEPOSIT, type(uint256).max, MAX_DEPOSIT)
        );
        channels.topUp(channelId, TOP_UP_SALT, type(uint256).max, _validAfter(), _validBefore(), "");
    }

    function test_RevertWhen_TopUpSaltReused() public {
        bytes32 channelId = _openDefault();
        _topUp(aliceKey, channelId, TOP_UP_SALT, TOP_UP);

        bytes32 nonce = _topUpNonce(channelId, TOP_UP_SALT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), TOP_UP, nonce);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, alice, nonce));
        channels.topUp(channelId, TOP_UP_SALT, TOP_UP, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_TopUpSignedByAnotherKey() public {
        bytes32 channelId = _openDefault();
        bytes memory signature =
            _receiveSignature(carolKey, address(channels), TOP_UP, _topUpNonce(channelId, TOP_UP_SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        channels.topUp(channelId, TOP_UP_SALT, TOP_UP, _validAfter(), _validBefore(), signature);
    }

    function test_RevertWhen_TopUpSignedForAnotherChannel() public {
        bytes32 first = _openDefault();
        bytes32 second = _open(aliceKey, dave, SALT, DEPOSIT);
        bytes memory signature = _receiveSignature(aliceKey, address(channels), TOP_UP, _topUpNonce(first, TOP_UP_SALT));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        channels.topUp(second, TOP_UP_SALT, TOP_UP, _validAfter(), _validBefore(), signature);
    }
}
