// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {PaymentChannelsFixture} from "../utils/PaymentChannelsFixture.sol";

/// @notice Random voucher sequences, closes and withdrawals: the payee never receives more than the
/// largest voucher nor more than the deposit, and every token is accounted for.
contract PaymentChannelsFuzzTest is PaymentChannelsFixture {
    uint256 internal constant STEPS = 8;

    /// @dev What a claim of `amount` must pay on a channel with `deposit` and `claimed`.
    function _expectedPaid(uint256 amount, uint256 deposit, uint256 claimed) internal pure returns (uint256) {
        return amount > claimed && amount <= deposit ? amount - claimed : 0;
    }

    function testFuzz_ClaimSequenceOneByOne(uint256 depositSeed, uint256[STEPS] memory amountSeeds) public {
        uint256 deposit = bound(depositSeed, 1, PAYER_BALANCE);
        bytes32 channelId = _open(aliceKey, bob, SALT, deposit);
        uint256 claimed;
        uint256 largestVoucher;

        for (uint256 i = 0; i < STEPS; ++i) {
            // Up to twice the deposit, so some vouchers overspend and must be skipped.
            uint256 amount = bound(amountSeeds[i], 0, 2 * deposit);
            if (amount > largestVoucher) largestVoucher = amount;
            uint256 expected = _expectedPaid(amount, deposit, claimed);

            assertEq(_claimOne(_voucher(aliceKey, channelId, amount)), expected, "paid");
            claimed += expected;

            uint256 received = token.balanceOf(bob);
            assertEq(received, claimed, "payee received what was claimed");
            assertLe(received, largestVoucher, "never more than the largest voucher");
            assertLe(received, deposit, "never more than the deposit");
            assertEq(token.balanceOf(address(channels)), deposit - claimed, "escrow holds the rest");
            _assertChannel(channelId, alice, bob, deposit, claimed, 0);
        }
    }

    function testFuzz_ClaimSequenceInOneBatch(uint256 depositSeed, uint256[STEPS] memory amountSeeds) public {
        uint256 deposit = bound(depositSeed, 1, PAYER_BALANCE);
        bytes32 channelId = _open(aliceKey, bob, SALT, deposit);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](STEPS);
        uint256 claimed;
        uint256 largestVoucher;
        for (uint256 i = 0; i < STEPS; ++i) {
            uint256 amount = bound(amountSeeds[i], 0, 2 * deposit);
            if (amount > largestVoucher) largestVoucher = amount;
            claimed += _expectedPaid(amount, deposit, claimed);
            claims[i] = _voucher(aliceKey, channelId, amount);
        }

        vm.prank(relayer);
        assertEq(channels.claim(claims), claimed, "paid total");
        assertEq(token.balanceOf(bob), claimed, "payee");
        assertLe(claimed, largestVoucher, "never more than the largest voucher");
        assertLe(claimed, deposit, "never more than the deposit");

        // Replaying the whole batch pays nothing.
        vm.prank(relayer);
        assertEq(channels.claim(claims), 0, "replay pays nothing");
    }

    function testFuzz_TopUpMakesOverspendingVouchersClaimable(
        uint256 depositSeed,
        uint256 voucherSeed,
        uint256 topUpSeed
    ) public {
        uint256 deposit = bound(depositSeed, 1, PAYER_BALANCE / 4);
        uint256 amount = bound(voucherSeed, deposit + 1, 2 * deposit);
        uint256 topUp = bound(topUpSeed, 1, 2 * deposit);
        bytes32 channelId = _open(aliceKey, bob, SALT, deposit);
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, amount);

        assertEq(_claimOne(voucher), 0, "above the deposit");
        _topUp(aliceKey, channelId, TOP_UP_SALT, topUp);
        uint256 expected = amount <= deposit + topUp ? amount : 0;
        assertEq(_claimOne(voucher), expected, "after the top-up");
        assertEq(token.balanceOf(address(channels)), deposit + topUp - expected, "escrow");
    }

    function testFuzz_CloseCooperatively(uint256 depositSeed, uint256 claimSeed, uint256 closeSeed) public {
        uint256 deposit = bound(depositSeed, 1, PAYER_BALANCE);
        uint256 claimedFirst = bound(claimSeed, 0, deposit);
        uint256 closeAmount = bound(closeSeed, claimedFirst, deposit);
        bytes32 channelId = _open(aliceKey, bob, SALT, deposit);
        if (claimedFirst != 0) _claimOne(_voucher(aliceKey, channelId, claimedFirst));

        (bytes32 r, bytes32 vs) = _signVoucher(aliceKey, channelId, closeAmount);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ChannelClosed(channelId, closeAmount - claimedFirst, deposit - closeAmount);
        vm.prank(bob);
        channels.closeCooperatively(channelId, closeAmount, r, vs);

        assertEq(token.balanceOf(bob), closeAmount, "payee got the voucher");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - closeAmount, "payer got the rest");
        assertEq(token.balanceOf(address(channels)), 0, "nothing held");
        _assertChannelDeleted(channelId);
    }

    function testFuzz_Withdraw(uint256 depositSeed, uint256 claimSeed, uint256 waitSeed) public {
        uint256 deposit = bound(depositSeed, 1, PAYER_BALANCE);
        uint256 claimed = bound(claimSeed, 0, deposit);
        uint256 wait = bound(waitSeed, 0, 2 * uint256(CHALLENGE_PERIOD));
        bytes32 channelId = _open(aliceKey, bob, SALT, deposit);
        if (claimed != 0) _claimOne(_voucher(aliceKey, channelId, claimed));

        vm.prank(alice);
        channels.requestWithdrawal(channelId);
        uint256 withdrawableAt = block.timestamp + CHALLENGE_PERIOD;
        vm.warp(block.timestamp + wait);

        if (block.timestamp < withdrawableAt) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPaymentChannels.WithdrawalNotReady.selector, channelId, withdrawableAt, block.timestamp
                )
            );
            vm.prank(alice);
            channels.withdraw(channelId);
            _assertChannel(channelId, alice, bob, deposit, claimed, withdrawableAt);
        } else {
            vm.prank(alice);
            channels.withdraw(channelId);
            assertEq(token.balanceOf(alice), PAYER_BALANCE - claimed, "refund of the unclaimed");
            assertEq(token.balanceOf(bob), claimed, "payee keeps its claims");
            _assertChannelDeleted(channelId);
        }
    }

    function testFuzz_VoucherOfAnyOtherKeyIsSkipped(uint256 keySeed, uint256 amountSeed) public {
        uint256 key = boundPrivateKey(keySeed);
        vm.assume(key != aliceKey);
        bytes32 channelId = _openDefault();
        uint256 amount = bound(amountSeed, 1, DEPOSIT);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.ClaimSkipped(0, channelId, IPaymentChannels.ClaimSkipReason.InvalidSignature);
        assertEq(_claimOne(_voucher(key, channelId, amount)), 0, "paid nothing");
        assertEq(token.balanceOf(address(channels)), DEPOSIT, "escrow untouched");
    }

    function testFuzz_ChannelIdBindsPayerPayeeAndSalt(address payer, address payee, bytes32 salt) public view {
        assertEq(channels.computeChannelId(payer, payee, salt), _channelId(payer, payee, salt));
    }
}
