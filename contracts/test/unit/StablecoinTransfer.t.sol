// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice ERC-20 transfer, approve and transferFrom.
contract StablecoinTransferTest is StablecoinFixture {
    // ---------------------------------------------------------------- transfer

    function test_Transfer() public {
        vm.expectEmit();
        emit IERC20.Transfer(alice, bob, 300e6);
        vm.prank(alice);
        assertTrue(token.transfer(bob, 300e6), "returns true");

        assertEq(token.balanceOf(alice), INITIAL_BALANCE - 300e6);
        assertEq(token.balanceOf(bob), 300e6);
        assertEq(token.totalSupply(), 2 * INITIAL_BALANCE);
    }

    function test_Transfer_WholeBalance() public {
        vm.prank(alice);
        assertTrue(token.transfer(bob, INITIAL_BALANCE), "returns true");
        assertEq(token.balanceOf(alice), 0);
        assertEq(token.balanceOf(bob), INITIAL_BALANCE);
    }

    function test_Transfer_ToSelf() public {
        vm.expectEmit();
        emit IERC20.Transfer(alice, alice, 1e6);
        vm.prank(alice);
        assertTrue(token.transfer(alice, 1e6), "returns true");
        assertEq(token.balanceOf(alice), INITIAL_BALANCE);
    }

    function test_Transfer_ZeroAmount() public {
        vm.expectEmit();
        emit IERC20.Transfer(bob, alice, 0);
        vm.prank(bob);
        assertTrue(token.transfer(alice, 0), "returns true");
        assertEq(token.balanceOf(alice), INITIAL_BALANCE);
    }

    function test_RevertWhen_TransferExceedsBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, INITIAL_BALANCE + 1
            )
        );
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(bob, INITIAL_BALANCE + 1);
    }

    function test_RevertWhen_TransferToZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(address(0), 1);
    }

    // ---------------------------------------------------------------- approve

    function test_Approve() public {
        vm.expectEmit();
        emit IERC20.Approval(alice, bob, 50e6);
        vm.prank(alice);
        assertTrue(token.approve(bob, 50e6), "returns true");
        assertEq(token.allowance(alice, bob), 50e6);
    }

    function test_Approve_OverwritesThePreviousAllowance() public {
        vm.startPrank(alice);
        token.approve(bob, 50e6);
        token.approve(bob, 7);
        vm.stopPrank();
        assertEq(token.allowance(alice, bob), 7);
    }

    function test_RevertWhen_ApproveZeroSpender() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidSpender.selector, address(0)));
        vm.prank(alice);
        token.approve(address(0), 1);
    }

    // ---------------------------------------------------------------- transferFrom

    function test_TransferFrom() public {
        vm.prank(alice);
        token.approve(bob, 100e6);

        vm.expectEmit();
        emit IERC20.Transfer(alice, carol, 60e6);
        vm.prank(bob);
        assertTrue(token.transferFrom(alice, carol, 60e6), "returns true");

        assertEq(token.balanceOf(alice), INITIAL_BALANCE - 60e6);
        assertEq(token.balanceOf(carol), 60e6);
        assertEq(token.balanceOf(bob), 0);
        assertEq(token.allowance(alice, bob), 40e6);
    }

    function test_TransferFrom_UnlimitedAllowanceIsNotSpent() public {
        vm.prank(alice);
        token.approve(bob, type(uint256).max);

        vm.prank(bob);
        assertTrue(token.transferFrom(alice, bob, 60e6), "returns true");
        assertEq(token.allowance(alice, bob), type(uint256).max);
        assertEq(token.balanceOf(bob), 60e6);
    }

    function test_RevertWhen_TransferFromExceedsAllowance() public {
        vm.prank(alice);
        token.approve(bob, 10e6);

        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 10e6, 10e6 + 1));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, bob, 10e6 + 1);
    }

    function test_RevertWhen_TransferFromWithoutApproval() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 0, 1));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, bob, 1);
    }

    function test_RevertWhen_TransferFromExceedsBalance() public {
        vm.prank(alice);
        token.approve(bob, type(uint256).max);

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, INITIAL_BALANCE + 1
            )
        );
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, bob, INITIAL_BALANCE + 1);
    }

    function test_RevertWhen_TransferFromToZeroAddress() public {
        vm.prank(alice);
        token.approve(bob, 1);

        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, address(0), 1);
    }
}
