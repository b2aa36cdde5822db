// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Minter configuration, allowance-limited minting, removal and burning.
contract StablecoinMintTest is StablecoinFixture {
    address internal newMinter;

    function setUp() public override {
        super.setUp();
        newMinter = makeAddr("newMinter");
    }

    // ---------------------------------------------------------------- configureMinter

    function test_ConfigureMinter() public {
        vm.expectEmit();
        emit IAccessControl.RoleGranted(MINTER_ROLE, newMinter, admin);
        vm.expectEmit();
        emit IStablecoin.MinterConfigured(newMinter, 500e6);
        vm.prank(admin);
        token.configureMinter(newMinter, 500e6);

        assertTrue(token.hasRole(MINTER_ROLE, newMinter), "role");
        assertEq(token.minterAllowance(newMinter), 500e6);
    }

    function test_ConfigureMinter_ReplacesTheAllowance() public {
        _mint(bob, 100e6);
        assertEq(token.minterAllowance(minter), MINTER_ALLOWANCE - INITIAL_BALANCE * 2 - 100e6);

        vm.expectEmit();
        emit IStablecoin.MinterConfigured(minter, 7e6);
        vm.prank(admin);
        token.configureMinter(minter, 7e6);
        assertEq(token.minterAllowance(minter), 7e6);
    }

    function test_ConfigureMinter_ZeroAllowance() public {
        vm.prank(admin);
        token.configureMinter(minter, 0);
        assertEq(token.minterAllowance(minter), 0);
        assertTrue(token.hasRole(MINTER_ROLE, minter), "still a minter");

        vm.expectRevert(abi.encodeWithSelector(IStablecoin.MintAllowanceExceeded.selector, minter, 0, 1));
        vm.prank(minter);
        token.mint(bob, 1);
    }

    function test_RevertWhen_ConfigureMinterCallerIsNotAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, DEFAULT_ADMIN_ROLE)
        );
        vm.prank(minter);
        token.configureMinter(minter, type(uint256).max);
    }

    function test_RevertWhen_ConfigureMinterZeroAddress() public {
        vm.expectRevert(IStablecoin.ZeroAddress.selector);
        vm.prank(admin);
        token.configureMinter(address(0), 1);
    }

    // ---------------------------------------------------------------- mint

    function test_Mint() public {
        uint256 allowanceBefore = token.minterAllowance(minter);
        uint256 supplyBefore = token.totalSupply();

        vm.expectEmit();
        emit IERC20.Transfer(address(0), bob, 250e6);
        vm.expectEmit();
        emit IStablecoin.Minted(minter, bob, 250e6);
        vm.prank(minter);
        token.mint(bob, 250e6);

        assertEq(token.balanceOf(bob), 250e6);
        assertEq(token.totalSupply(), supplyBefore + 250e6);
        assertEq(token.minterAllowance(minter), allowanceBefore - 250e6);
    }

    function test_Mint_WholeAllowanceThenNothingMore() public {
        uint256 remaining = token.minterAllowance(minter);
        _mint(bob, remaining);
        assertEq(token.minterAllowance(minter), 0);
        assertEq(token.balanceOf(bob), remaining);

        vm.expectRevert(abi.encodeWithSelector(IStablecoin.MintAllowanceExceeded.selector, minter, 0, 1));
        vm.prank(minter);
        token.mint(bob, 1);
    }

    function test_Mint_MintersHaveSeparateAllowances() public {
        vm.prank(admin);
        token.configureMinter(newMinter, 10e6);

        vm.prank(newMinter);
        token.mint(bob, 10e6);
        assertEq(token.minterAllowance(newMinter), 0);
        assertEq(token.minterAllowance(minter), MINTER_ALLOWANCE - 2 * INITIAL_BALANCE);
    }

    function test_RevertWhen_MintExceedsAllowance() public {
        uint256 remaining = token.minterAllowance(minter);
        vm.expectRevert(
            abi.encodeWithSelector(IStablecoin.MintAllowanceExceeded.selector, minter, remaining, remaining + 1)
        );
        vm.prank(minter);
        token.mint(bob, remaining + 1);
    }

    function test_RevertWhen_MintZeroAmount() public {
        vm.expectRevert(IStablecoin.ZeroAmount.selector);
        vm.prank(minter);
        token.mint(bob, 0);
    }

    function test_RevertWhen_MintCallerIsNotMinter() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, MINTER_ROLE)
        );
        vm.prank(admin);
        token.mint(admin, 1);
    }

    function test_RevertWhen_MintToZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(minter);
        token.mint(address(0), 1);
    }

    function test_RevertWhen_RoleWithoutConfiguredAllowanceMints() public {
        vm.prank(admin);
        token.grantRole(MINTER_ROLE, newMinter);
        vm.expectRevert(abi.encodeWithSelector(IStablecoin.MintAllowanceExceeded.selector, newMinter, 0, 1));
        vm.prank(newMinter);
        token.mint(bob, 1);
    }

    // ---------------------------------------------------------------- removeMinter

    function test_RemoveMinter() public {
        vm.expectEmit();
        emit IAccessControl.RoleRevoked(MINTER_ROLE, minter, admin);
        vm.expectEmit();
        emit IStablecoin.MinterRemoved(minter);
        vm.prank(admin);
        token.removeMinter(minter);

        assertFalse(token.hasRole(MINTER_ROLE, minter), "role");
        assertEq(token.minterAllowance(minter), 0);
    }

    function test_RevertWhen_RemovedMinterMints() public {
        vm.prank(admin);
        token.removeMinter(minter);

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, MINTER_ROLE)
        );
        vm.prank(minter);
        token.mint(bob, 1);
    }

    function test_RevertWhen_RemoveMinterCallerIsNotAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, DEFAULT_ADMIN_ROLE)
        );
        vm.prank(minter);
        token.removeMinter(minter);
    }

    function test_ReconfiguredMinterStartsFromTheNewAllowance() public {
        vm.startPrank(admin);
        token.removeMinter(minter);
        token.configureMinter(minter, 3e6);
        vm.stopPrank();

        _mint(bob, 3e6);
        assertEq(token.minterAllowance(minter), 0);
    }

    // ---------------------------------------------------------------- burn

    function test_Burn() public {
        _mint(minter, 40e6);
        uint256 supplyBefore = token.totalSupply();

        vm.expectEmit();
        emit IERC20.Transfer(minter, address(0), 15e6);
        vm.expectEmit();
        emit IStablecoin.Burned(minter, 15e6);
        vm.prank(minter);
        token.burn(15e6);

        assertEq(token.balanceOf(minter), 25e6);
        assertEq(token.totalSupply(), supplyBefore - 15e6);
    }

    function test_Burn_DoesNotRestoreTheMintAllowance() public {
        _mint(minter, 40e6);
        uint256 allowance = token.minterAllowance(minter);
        vm.prank(minter);
        token.burn(40e6);
        assertEq(token.minterAllowance(minter), allowance);
    }

    function test_Burn_TokensReceivedFromAHolder() public {
        vm.prank(alice);
        assertTrue(token.transfer(minter, 100e6), "transfer");
        vm.prank(minter);
        token.burn(100e6);
        assertEq(token.balanceOf(minter), 0);
        assertEq(token.totalSupply(), 2 * INITIAL_BALANCE - 100e6);
    }

    function test_RevertWhen_BurnZeroAmount() public {
        _mint(minter, 1);
        vm.expectRevert(IStablecoin.ZeroAmount.selector);
        vm.prank(minter);
        token.burn(0);
    }

    function test_RevertWhen_BurnExceedsBalance() public {
        _mint(minter, 5e6);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, minter, 5e6, 5e6 + 1));
        vm.prank(minter);
        token.burn(5e6 + 1);
    }

    function test_RevertWhen_BurnCallerIsNotMinter() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, MINTER_ROLE)
        );
        vm.prank(alice);
        token.burn(1);
    }

    function test_RevertWhen_RemovedMinterBurns() public {
        _mint(minter, 5e6);
        vm.prank(admin);
        token.removeMinter(minter);

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, MINTER_ROLE)
        );
        vm.prank(minter);
        token.burn(5e6);
    }
}
