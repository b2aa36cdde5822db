// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {PaymentChannelsFixture} from "../utils/PaymentChannelsFixture.sol";
import {RecordedLogs, VmLogs} from "../utils/VmLogs.sol";

/// @notice The two ways a channel ends: the payee's cooperative close and the payer's timed
/// withdrawal.
contract PaymentChannelsCloseTest is PaymentChannelsFixture {
    using RecordedLogs for VmLogs.Log[];

    bytes32 internal channelId;

    function setUp() public override {
        super.setUp();
        channelId = _openDefault();
    }

    function _close(address caller, uint256 cumulativeAmount) internal {
        (bytes32 r, bytes32 vs) = _signVoucher(aliceKey, channelId, cumulativeAmount);
        vm.prank(caller);
        channels.closeCooperatively(channelId, cumulativeAmount, r, vs);
    }

    function _requestWithdrawal() internal returns (uint64 withdrawableAt) {
        withdrawableAt = uint64(block.timestamp) + CHALLENGE_PERIOD;
        vm.prank(alice);
        channels.requestWithdrawal(channelId);
    }

    // ---------------------------------------------------------------- closeCooperatively

    function test_CloseCooperatively() public {
        (bytes32 r, bytes32 vs) = _signVoucher(aliceKey, channelId, 30e6);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 30e6, DEPOSIT - 30e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 30e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), alice, DEPOSIT - 30e6);
        vm.prank(bob);
        channels.closeCooperatively(channelId, 30e6, r, vs);

        _assertChannelDeleted(channelId);
        assertEq(token.balanceOf(bob), 30e6, "payee");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - 30e6, "payer refunded");
        assertEq(token.balanceOf(address(channels)), 0, "nothing held");
    }

    function test_CloseCooperatively_AfterAClaimPaysOnlyTheIncrease() public {
        _claimOne(_voucher(aliceKey, channelId, 30e6));

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 20e6, DEPOSIT - 50e6);
        _close(bob, 50e6);

        assertEq(token.balanceOf(bob), 50e6, "payee");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - 50e6, "payer");
    }

    function test_CloseCooperatively_WithTheLastClaimedVoucher() public {
        _claimOne(_voucher(aliceKey, channelId, 30e6));

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 0, DEPOSIT - 30e6);
        RecordedLogs.VM_LOGS.recordLogs();
        _close(bob, 30e6);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.count(address(token), IERC20.Transfer.selector), 1, "refund only");
        assertEq(token.balanceOf(bob), 30e6, "payee");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - 30e6, "payer");
        _assertChannelDeleted(channelId);
    }

    function test_CloseCooperatively_TheWholeDeposit() public {
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, DEPOSIT, 0);
        RecordedLogs.VM_LOGS.recordLogs();
        _close(bob, DEPOSIT);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.count(address(token), IERC20.Transfer.selector), 1, "payment only");
        assertEq(token.balanceOf(bob), DEPOSIT, "payee");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - DEPOSIT, "payer");
    }

    function test_CloseCooperatively_WithAZeroVoucher() public {
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 0, DEPOSIT);
        _close(bob, 0);
        assertEq(token.balanceOf(alice), PAYER_BALANCE, "payer refunded in full");
    }

    function test_CloseCooperatively_DuringAWithdrawal() public {
        _requestWithdrawal();
        _close(bob, 10e6);
        _assertChannelDeleted(channelId);
        assertEq(token.balanceOf(bob), 10e6, "payee");
    }

    function test_RevertWhen_CloseUnknownChannel() public {
        bytes32 unknown = _channelId(alice, bob, keccak256("never opened"));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, unknown));
        vm.prank(bob);
        channels.closeCooperatively(unknown, 0, bytes32(0), bytes32(0));
    }

    function test_RevertWhen_CloseTwice() public {
        _close(bob, 10e6);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, channelId));
        _close(bob, 10e6);
    }

    function test_RevertWhen_CloseCallerIsThePayer() public {
        // Otherwise the payer could cut the payee off with an old voucher and take back the rest.
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.CallerNotPayee.selector, channelId, alice, bob));
        _close(alice, 1e6);
    }

    function test_RevertWhen_CloseCallerIsARelayer() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.CallerNotPayee.selector, channelId, relayer, bob));
        _close(relayer, 1e6);
    }

    function test_RevertWhen_CloseVoucherSignedByAnotherKey() public {
        (bytes32 r, bytes32 vs) = _signVoucher(carolKey, channelId, 10e6);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidVoucherSignature.selector, channelId, alice));
        vm.prank(bob);
        channels.closeCooperatively(channelId, 10e6, r, vs);
    }

    function test_RevertWhen_CloseVoucherAmountTampered() public {
        (bytes32 r, bytes32 vs) = _signVoucher(aliceKey, channelId, 10e6);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidVoucherSignature.selector, channelId, alice));
        vm.prank(bob);
        channels.closeCooperatively(channelId, 11e6, r, vs);
    }

    function test_RevertWhen_CloseVoucherBelowClaimed() public {
        _claimOne(_voucher(aliceKey, channelId, 30e6));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.VoucherBelowClaimed.selector, channelId, 29e6, 30e6));
        _close(bob, 29e6);
    }

    function test_RevertWhen_CloseVoucherExceedsDeposit() public {
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.VoucherExceedsDeposit.selector, channelId, DEPOSIT + 1, DEPOSIT)
        );
        _close(bob, DEPOSIT + 1);
    }

    // ---------------------------------------------------------------- requestWithdrawal

    function test_RequestWithdrawal() public {
        uint64 withdrawableAt = uint64(block.timestamp) + CHALLENGE_PERIOD;
        vm.expectEmit(address(channels));
        emit IPaymentChannels.WithdrawalRequested(channelId, withdrawableAt);
        vm.prank(alice);
        channels.requestWithdrawal(channelId);

        _assertChannel(channelId, alice, bob, DEPOSIT, 0, withdrawableAt);
        assertEq(token.balanceOf(address(channels)), DEPOSIT, "nothing moved yet");
    }

    function test_RevertWhen_RequestWithdrawalUnknownChannel() public {
        bytes32 unknown = _channelId(alice, bob, keccak256("never opened"));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, unknown));
        vm.prank(alice);
        channels.requestWithdrawal(unknown);
    }

    function test_RevertWhen_RequestWithdrawalCallerIsThePayee() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.CallerNotPayer.selector, channelId, bob, alice));
        vm.prank(bob);
        channels.requestWithdrawal(channelId);
    }

    function test_RevertWhen_RequestWithdrawalCallerIsARelayer() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.CallerNotPayer.selector, channelId, relayer, alice));
        vm.prank(relayer);
        channels.requestWithdrawal(channelId);
    }

    function test_RevertWhen_RequestWithdrawalTwice() public {
        uint64 withdrawableAt = _requestWithdrawal();
        vm.warp(block.timestamp + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(IPaymentChannels.WithdrawalAlreadyRequested.selector, channelId, withdrawableAt)
        );
        vm.prank(alice);
        channels.requestWithdrawal(channelId);
    }

    // ---------------------------------------------------------------- withdraw

    function test_Withdraw() public {
        _requestWithdrawal();
        vm.warp(block.timestamp + CHALLENGE_PERIOD);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 0, DEPOSIT);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), alice, DEPOSIT);
        vm.prank(alice);
        channels.withdraw(channelId);

        _assertChannelDeleted(channelId);
        assertEq(token.balanceOf(alice), PAYER_BALANCE, "payer refunded");
        assertEq(token.balanceOf(address(channels)), 0, "nothing held");
    }

    function test_Withdraw_RefundsOnlyTheUnclaimed() public {
        _claimOne(_voucher(aliceKey, channelId, 30e6));
        _requestWithdrawal();
        vm.warp(block.timestamp + CHALLENGE_PERIOD + 1);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 0, DEPOSIT - 30e6);
        vm.prank(alice);
        channels.withdraw(channelId);
        assertEq(token.balanceOf(alice), PAYER_BALANCE - 30e6, "payer");
        assertEq(token.balanceOf(bob), 30e6, "payee keeps its claim");
    }

    function test_Withdraw_FullyClaimedChannelMovesNoToken() public {
        _claimOne(_voucher(aliceKey, channelId, DEPOSIT));
        _requestWithdrawal();
        vm.warp(block.timestamp + CHALLENGE_PERIOD);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, 0, 0);
        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(alice);
        channels.withdraw(channelId);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();
        assertEq(logs.count(address(token), IERC20.Transfer.selector), 0, "no transfer");
        _assertChannelDeleted(channelId);
    }

    function test_RevertWhen_WithdrawUnknownChannel() public {
        bytes32 unknown = _channelId(alice, bob, keccak256("never opened"));
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, unknown));
        vm.prank(alice);
        channels.withdraw(unknown);
    }

    function test_RevertWhen_WithdrawNotRequested() public {
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.WithdrawalNotRequested.selector, channelId));
        vm.prank(alice);
        channels.withdraw(channelId);
    }

    function test_RevertWhen_WithdrawBeforeTheChallengePeriodEnds() public {
        uint64 withdrawableAt = _requestWithdrawal();
        vm.warp(withdrawableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPaymentChannels.WithdrawalNotReady.selector, channelId, withdrawableAt, uint256(withdrawableAt) - 1
            )
        );
        vm.prank(alice);
        channels.withdraw(channelId);
    }

    function test_RevertWhen_WithdrawCallerIsThePayee() public {
        _requestWithdrawal();
        vm.warp(block.timestamp + CHALLENGE_PERIOD);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.CallerNotPayer.selector, channelId, bob, alice));
        vm.prank(bob);
        channels.withdraw(channelId);
    }

    function test_RevertWhen_WithdrawTwice() public {
        _requestWithdrawal();
        vm.warp(block.timestamp + CHALLENGE_PERIOD);
        vm.startPrank(alice);
        channels.withdraw(channelId);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.UnknownChannel.selector, channelId));
        channels.withdraw(channelId);
        vm.stopPrank();
    }
}
