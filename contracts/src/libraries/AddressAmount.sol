// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice An address and an amount of at most 96 bits packed into one storage word: the address
/// in the low 160 bits, the amount in the high 96. Reading or writing both costs one storage
/// access instead of one per field, which is what a claim's gas budget is made of.
type AddressAmount is uint256;

using AddressAmountLib for AddressAmount global;

/// @title AddressAmountLib
/// @notice Packing and unpacking of {AddressAmount}.
library AddressAmountLib {
    /// @notice The largest amount that fits beside an address.
    uint256 internal constant MAX_AMOUNT = type(uint96).max;

    /// @dev The low 160 bits, where the address lives.
    uint256 private constant _ADDRESS_MASK = type(uint160).max;

    /// @notice Thrown when an amount above `MAX_AMOUNT` is packed; callers check first and report
    /// their own error, so this only guards against a programming error.
    error AmountDoesNotFit(uint256 amount);

    /// @notice Packs `account` and `amount`, which must be at most `MAX_AMOUNT`.
    function pack(address account, uint256 amount) internal pure returns (AddressAmount) {
        if (amount > MAX_AMOUNT) revert AmountDoesNotFit(amount);
        return AddressAmount.wrap((amount << 160) | uint256(uint160(account)));
    }

    /// @notice The packed address (the zero address for an empty word).
    function addressOf(AddressAmount packed) internal pure returns (address) {
        // Cannot lose data: the mask keeps exactly the 160 bits the address was packed into.
        // forge-lint: disable-next-line(unsafe-typecast)
        return address(uint160(AddressAmount.unwrap(packed) & _ADDRESS_MASK));
    }

    /// @notice The packed amount.
    function amountOf(AddressAmount packed) internal pure returns (uint256) {
        return AddressAmount.unwrap(packed) >> 160;
    }
}
