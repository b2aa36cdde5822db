// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Fuzzed mints, transfers and transferFroms: balances are conserved, allowances spent exactly.
contract StablecoinTransferFuzzTest is StablecoinFixture {
    /// @dev The combined balance of two accounts, counting one account once.
    function _pairBalance(address a, address b) internal view returns (uint256) {
        return a == b ? token.balanceOf(a) : token.balanceOf(a) + token.balanceOf(b);
    }

    function testFuzz_Mint_WithinAllowance(address to, uint256 amount) public {
        vm.assume(to != address(0));
        uint256 allowance = token.minterAllowance(minter);
        amount = bound(amount, 1, allowance);
        uint256 balanceBefore = token.balanceOf(to);
        uint256 supplyBefore = token.totalSupply();

        _mint(to, amount);

        assertEq(token.balanceOf(to), balanceBefore + amount, "balance");
        assertEq(token.totalSupply(), supplyBefore + amount, "supply");
        assertEq(token.minterAllowance(minter), allowance - amount, "allowance");
    }

    function testFuzz_RevertWhen_MintExceedsAllowance(uint256 amount) public {
        uint256 allowance = token.minterAllowance(minter);
        amount = bound(amount, allowance + 1, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IStablecoin.MintAllowanceExceeded.selector, minter, allowance, amount));
        vm.prank(minter);
        token.mint(bob, amount);
    }

    function testFuzz_Transfer_ConservesBalances(address to, uint256 funding, uint256 amount) public {
        vm.assume(to != address(0));
        funding = bound(funding, 1, token.minterAllowance(minter));
        _mint(bob, funding);
        amount = bound(amount, 0, token.balanceOf(bob));

        uint256 pairBefore = _pairBalance(bob, to);
        uint256 toBefore = token.balanceOf(to);
        uint256 supplyBefore = token.totalSupply();

        vm.prank(bob);
        assertTrue(token.transfer(to, amount), "returns true");

        assertEq(_pairBalance(bob, to), pairBefore, "pair balance conserved");
        assertEq(token.totalSupply(), supplyBefore, "supply unchanged");
        if (to != bob) {
            assertEq(token.balanceOf(bob), funding - amount, "sender");
            assertEq(token.balanceOf(to), toBefore + amount, "receiver");
        }
    }

    function testFuzz_RevertWhen_TransferExceedsBalance(uint256 amount) public {
        amount = bound(amount, INITIAL_BALANCE + 1, type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, amount)
        );
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(bob, amount);
    }

    function testFuzz_TransferFrom_ConservesBalancesAndSpendsAllowance(
        address spender,
        address to,
        uint256 approved,
        uint256 amount
    ) public {
        vm.assume(spender != address(0) && to != address(0));
        approved = bound(approved, 0, type(uint256).max);
        vm.prank(alice);
        token.approve(spender, approved);
        uint256 spendable = approved < INITIAL_BALANCE ? approved : INITIAL_BALANCE;
        amount = bound(amount, 0, spendable);

        uint256 pairBefore = _pairBalance(alice, to);
        uint256 supplyBefore = token.totalSupply();

        vm.prank(spender);
        assertTrue(token.transferFrom(alice, to, amount), "returns true");

        assertEq(_pairBalance(alice, to), pairBefore, "pair balance conserved");
        assertEq(token.totalSupply(), supplyBefore, "supply unchanged");
        uint256 expectedAllowance = approved == type(uint256).max ? approved : approved - amount;
        assertEq(token.allowance(alice, spender), expectedAllowance, "allowance");
    }

    function testFuzz_RevertWhen_TransferFromExceedsAllowance(uint256 approved, uint256 amount) public {
        approved = bound(approved, 0, INITIAL_BALANCE - 1);
        amount = bound(amount, approved + 1, INITIAL_BALANCE);
        vm.prank(alice);
        token.approve(bob, approved);

        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, approved, amount));
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, bob, amount);
    }

    function testFuzz_Burn(uint256 funding, uint256 amount) public {
        funding = bound(funding, 1, token.minterAllowance(minter));
        _mint(minter, funding);
        amount = bound(amount, 1, funding);
        uint256 supplyBefore = token.totalSupply();

        vm.prank(minter);
        token.burn(amount);

        assertEq(token.balanceOf(minter), funding - amount, "balance");
        assertEq(token.totalSupply(), supplyBefore - amount, "supply");
    }
}
