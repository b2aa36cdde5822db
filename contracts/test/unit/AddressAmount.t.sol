// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AddressAmountLib} from "../../src/libraries/AddressAmount.sol";
import {AddressAmountHarness} from "../mocks/AddressAmountHarness.sol";
import {Test} from "../utils/Test.sol";

/// @notice Packing an address and a 96-bit amount into one word.
contract AddressAmountTest is Test {
    uint256 internal constant MAX_AMOUNT = type(uint96).max;

    AddressAmountHarness internal harness;

    function setUp() public {
        harness = new AddressAmountHarness();
    }

    function test_Pack_Layout() public view {
        address account = address(0x1234567890123456789012345678901234567890);
        uint256 packed = harness.pack(account, 7);
        assertEq(packed, (uint256(7) << 160) | uint256(uint160(account)), "address low, amount high");
    }

    function test_Pack_Extremes() public view {
        address largest = address(type(uint160).max);
        uint256 packed = harness.pack(largest, MAX_AMOUNT);
        assertEq(packed, type(uint256).max, "all ones");
        assertEq(harness.addressOf(packed), largest, "address");
        assertEq(harness.amountOf(packed), MAX_AMOUNT, "amount");
    }

    function test_EmptyWordIsZero() public view {
        assertEq(harness.addressOf(0), address(0), "address");
        assertEq(harness.amountOf(0), 0, "amount");
    }

    function test_MaxAmount() public pure {
        assertEq(AddressAmountLib.MAX_AMOUNT, MAX_AMOUNT);
    }

    function test_RevertWhen_PackAmountDoesNotFit() public {
        vm.expectRevert(abi.encodeWithSelector(AddressAmountLib.AmountDoesNotFit.selector, MAX_AMOUNT + 1));
        harness.pack(address(1), MAX_AMOUNT + 1);
    }

    function testFuzz_PackRoundTrip(address account, uint96 amount) public view {
        uint256 packed = harness.pack(account, amount);
        assertEq(harness.addressOf(packed), account, "address");
        assertEq(harness.amountOf(packed), uint256(amount), "amount");
    }

    function testFuzz_RevertWhen_PackAmountDoesNotFit(address account, uint256 amount) public {
        amount = bound(amount, MAX_AMOUNT + 1, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(AddressAmountLib.AmountDoesNotFit.selector, amount));
        harness.pack(account, amount);
    }
}
