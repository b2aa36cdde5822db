// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {NetSettlementFixture} from "../utils/NetSettlementFixture.sol";

/// @notice Timed withdrawals: request, delay, and payment of the smaller of request and balance.
contract NetSettlementWithdrawTest is NetSettlementFixture {
    function setUp() public override {
        super.setUp();
        _deposit(aliceKey, DEPOSIT);
        _deposit(bobKey, DEPOSIT);
    }

    function _request(address account, uint256 amount) internal returns (uint256 availableAt) {
        availableAt = block.timestamp + WITHDRAWAL_DELAY;
        vm.prank(account);
        net.requestWithdrawal(amount);
    }

    function _assertRequest(address account, uint256 amount, uint256 availableAt) internal view {
        (uint256 storedAmount, uint64 storedAt) = net.withdrawalRequest(account);
        assertEq(storedAmount, amount, "requested amount");
        assertEq(uint256(storedAt), availableAt, "available at");
    }

    // ---------------------------------------------------------------- requestWithdrawal

    function test_RequestWithdrawal() public {
        uint64 availableAt = uint64(block.timestamp) + WITHDRAWAL_DELAY;
        vm.expectEmit(address(net));
        emit INetSettlement.WithdrawalRequested(alice, 40e6, availableAt);
        vm.prank(alice);
        net.requestWithdrawal(40e6);

        _assertRequest(alice, 40e6, availableAt);
        assertEq(net.balanceOf(alice), DEPOSIT, "balance untouched until withdrawn");
    }

    function test_RequestWithdrawal_ReplacesAPendingRequest() public {
        _request(alice, 40e6);
        vm.warp(block.timestamp + 10 minutes);
        uint256 availableAt = _request(alice, 10e6);
        _assertRequest(alice, 10e6, availableAt);
    }

    function test_RequestWithdrawal_MoreThanTheBalance() public {
        uint256 availableAt = _request(alice, type(uint256).max);
        _assertRequest(alice, type(uint256).max, availableAt);
    }

    function test_RequestWithdrawal_NoneIsAllZero() public view {
        _assertRequest(carol, 0, 0);
    }

    function test_RevertWhen_RequestWithdrawalAmountIsZero() public {
        vm.expectRevert(INetSettlement.ZeroAmount.selector);
        vm.prank(alice);
        net.requestWithdrawal(0);
    }

    // ---------------------------------------------------------------- withdraw

    function test_Withdraw() public {
        uint256 availableAt = _request(alice, 40e6);
        vm.warp(availableAt);

        vm.expectEmit(address(net));
        emit INetSettlement.Withdrawn(alice, 40e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(net), alice, 40e6);
        vm.prank(alice);
        net.withdraw();

        assertEq(net.balanceOf(alice), DEPOSIT - 40e6, "balance");
        assertEq(token.balanceOf(alice), ACCOUNT_BALANCE - DEPOSIT + 40e6, "paid out");
        assertEq(token.balanceOf(address(net)), 2 * DEPOSIT - 40e6, "held");
        _assertRequest(alice, 0, 0);
    }

    function test_Withdraw_EverythingWithAnOversizedRequest() public {
        uint256 availableAt = _request(alice, type(uint256).max);
        vm.warp(availableAt + 1 days);

        vm.expectEmit(address(net));
        emit INetSettlement.Withdrawn(alice, DEPOSIT);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(alice), 0, "emptied");
        assertEq(token.balanceOf(alice), ACCOUNT_BALANCE, "all back");
    }

    function test_Withdraw_EverythingClosesTheAccount() public {
        uint256 availableAt = _request(alice, DEPOSIT);
        vm.warp(availableAt);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(alice), 0, "emptied");
        assertFalse(net.isOpen(alice), "closed, its word freed");
        _assertRequest(alice, 0, 0);
    }

    function test_Withdraw_PartOfTheBalanceKeepsTheAccountOpen() public {
        uint256 availableAt = _request(alice, DEPOSIT - 1);
        vm.warp(availableAt);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(alice), 1, "one unit left");
        assertTrue(net.isOpen(alice), "still open");
    }

    function test_Withdraw_OnlyWhatASettlementLeft() public {
        uint256 availableAt = _request(alice, DEPOSIT);
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(keccak256("p"), alice, bob, 30e6);
        _settle(root, 1, accounts, deltas);
        vm.warp(availableAt);

        vm.expectEmit(address(net));
        emit INetSettlement.Withdrawn(alice, DEPOSIT - 30e6);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(alice), 0, "emptied");
    }

    function test_Withdraw_ByAPayeeOfItsCredits() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(keccak256("p"), alice, carol, 30e6);
        _settle(root, 1, accounts, deltas);
        uint256 availableAt = _request(carol, 30e6);
        vm.warp(availableAt);
        vm.prank(carol);
        net.withdraw();
        assertEq(token.balanceOf(carol), ACCOUNT_BALANCE + 30e6, "payee paid out");
        assertEq(net.balanceOf(carol), 0, "payee emptied");
    }

    function test_Withdraw_WithoutBalancePaysNothingAndClearsTheRequest() public {
        uint256 availableAt = _request(carol, 5e6);
        vm.warp(availableAt);
        vm.expectEmit(address(net));
        emit INetSettlement.Withdrawn(carol, 0);
        vm.prank(carol);
        net.withdraw();
        _assertRequest(carol, 0, 0);
        assertEq(token.balanceOf(carol), ACCOUNT_BALANCE, "unchanged");
    }

    function test_Withdraw_LeavesOtherAccountsAlone() public {
        uint256 availableAt = _request(alice, 40e6);
        _request(bob, 1e6);
        vm.warp(availableAt);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(bob), DEPOSIT, "bob's balance");
        _assertRequest(bob, 1e6, availableAt);
    }

    function test_RevertWhen_WithdrawNotRequested() public {
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.WithdrawalNotRequested.selector, alice));
        vm.prank(alice);
        net.withdraw();
    }

    function test_RevertWhen_WithdrawBeforeTheDelay() public {
        uint256 availableAt = _request(alice, 40e6);
        vm.warp(availableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(INetSettlement.WithdrawalNotReady.selector, alice, availableAt, availableAt - 1)
        );
        vm.prank(alice);
        net.withdraw();
    }

    function test_RevertWhen_WithdrawTwice() public {
        uint256 availableAt = _request(alice, 40e6);
        vm.warp(availableAt);
        vm.startPrank(alice);
        net.withdraw();
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.WithdrawalNotRequested.selector, alice));
        net.withdraw();
        vm.stopPrank();
        assertEq(net.balanceOf(alice), DEPOSIT - 40e6, "paid once");
    }

    function test_RevertWhen_WithdrawRestartedByANewRequest() public {
        uint256 firstAvailableAt = _request(alice, 40e6);
        vm.warp(firstAvailableAt - 1);
        uint256 availableAt = _request(alice, 40e6);
        vm.warp(firstAvailableAt);
        vm.expectRevert(
            abi.encodeWithSelector(INetSettlement.WithdrawalNotReady.selector, alice, availableAt, firstAvailableAt)
        );
        vm.prank(alice);
        net.withdraw();
    }
}
