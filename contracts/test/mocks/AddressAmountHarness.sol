// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AddressAmount, AddressAmountLib} from "../../src/libraries/AddressAmount.sol";

/// @title AddressAmountHarness
/// @notice Exposes {AddressAmountLib}'s internal functions as external ones, so tests can expect
/// its revert.
contract AddressAmountHarness {
    function pack(address account, uint256 amount) external pure returns (uint256) {
        return AddressAmount.unwrap(AddressAmountLib.pack(account, amount));
    }

    function addressOf(uint256 packed) external pure returns (address) {
        return AddressAmount.wrap(packed).addressOf();
    }

    function amountOf(uint256 packed) external pure returns (uint256) {
        return AddressAmount.wrap(packed).amountOf();
    }
}
