// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title NetWindowChanges
/// @notice Packs a window's accounts and signed deltas into `settleWindow`'s words, rebuilt from
/// the interface's specification (never from the contract under test): the account in the high
/// 160 bits, the debit flag in bit 95, the magnitude in the low 95 bits.
library NetWindowChanges {
    uint256 internal constant MAX_MAGNITUDE = (1 << 95) - 1;
    uint256 internal constant DEBIT_FLAG = 1 << 95;

    /// @dev Reverts on a length mismatch or a magnitude that does not fit, which would be a
    /// mistake in the test itself.
    function pack(address[] memory accounts, int256[] memory deltas) internal pure returns (bytes32[] memory changes) {
        require(accounts.length == deltas.length, "one delta per account");
        changes = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            changes[i] = packOne(accounts[i], deltas[i]);
        }
    }

    function packOne(address account, int256 delta) internal pure returns (bytes32) {
        require(delta != type(int256).min, "delta out of range");
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 magnitude = delta < 0 ? uint256(-delta) : uint256(delta);
        require(magnitude <= MAX_MAGNITUDE, "delta out of range");
        uint256 word = (uint256(uint160(account)) << 96) | magnitude;
        if (delta < 0) word |= DEBIT_FLAG;
        return bytes32(word);
    }
}
