// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {ERC20Mock} from "../mocks/ERC20Mock.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Rescue of ERC-20 tokens, the stablecoin included, sent to the token contract by mistake.
contract StablecoinRescueTest is StablecoinFixture {
    ERC20Mock internal other;

    function setUp() public override {
        super.setUp();
        other = new ERC20Mock();
        other.mint(alice, 100e18);
        vm.prank(alice);
        assertTrue(other.transfer(address(token), 40e18), "mistaken transfer");
    }

    function test_RescueERC20() public {
        vm.expectEmit(address(other));
        emit IERC20.Transfer(address(token), alice, 40e18);
        vm.expectEmit(address(token));
        emit IStablecoin.TokensRescued(address(other), alice, 40e18);
        vm.prank(rescuer);
        token.rescueERC20(address(other), alice, 40e18);

        assertEq(other.balanceOf(address(token)), 0);
        assertEq(other.balanceOf(alice), 100e18);
    }

    function test_RescueERC20_Partially() public {
        vm.prank(rescuer);
        token.rescueERC20(address(other), carol, 15e18);
        assertEq(other.balanceOf(address(token)), 25e18);
        assertEq(other.balanceOf(carol), 15e18);
    }

    function test_RescueERC20_TheStablecoinItself() public {
        vm.prank(alice);
        assertTrue(token.transfer(address(token), 70e6), "mistaken transfer");

        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(token), alice, 70e6);
        vm.expectEmit(address(token));
        emit IStablecoin.TokensRescued(address(token), alice, 70e6);
        vm.prank(rescuer);
        token.rescueERC20(address(token), alice, 70e6);

        assertEq(token.balanceOf(address(token)), 0);
        assertEq(token.balanceOf(alice), INITIAL_BALANCE);
    }

    function test_RevertWhen_RescueCallerIsNotRescuer() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, RESCUER_ROLE)
        );
        vm.prank(admin);
        token.rescueERC20(address(other), admin, 1);
    }

    function test_RevertWhen_RescueToZeroAddress() public {
        vm.expectRevert(IStablecoin.ZeroAddress.selector);
        vm.prank(rescuer);
        token.rescueERC20(address(other), address(0), 1);
    }

    function test_RevertWhen_RescueMoreThanHeld() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, address(token), 40e18, 40e18 + 1)
        );
        vm.prank(rescuer);
        token.rescueERC20(address(other), alice, 40e18 + 1);
    }

    function test_RevertWhen_RescueFromAnAddressWithoutCode() public {
        address notAToken = makeAddr("notAToken");
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, notAToken));
        vm.prank(rescuer);
        token.rescueERC20(notAToken, alice, 1);
    }

    function test_RevertWhen_RescueStablecoinWhilePaused() public {
        vm.prank(alice);
        assertTrue(token.transfer(address(token), 1e6), "mistaken transfer");
        _pause();

        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(rescuer);
        token.rescueERC20(address(token), alice, 1e6);
    }

    function test_RevertWhen_RescueStablecoinToBlocklisted() public {
        vm.prank(alice);
        assertTrue(token.transfer(address(token), 1e6), "mistaken transfer");
        _blocklist(alice);

        vm.expectRevert(abi.encodeWithSelector(IStablecoin.AccountBlocklisted.selector, alice));
        vm.prank(rescuer);
        token.rescueERC20(address(token), alice, 1e6);
    }
}
