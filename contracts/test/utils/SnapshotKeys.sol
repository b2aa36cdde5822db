// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Names for `vm.snapshotValue` made from the gas tests' labels.
library SnapshotKeys {
    /// @dev `prefix` and `label` with the label's spaces turned to underscores.
    function named(string memory prefix, string memory label) internal pure returns (string memory) {
        bytes memory text = bytes(label);
        for (uint256 i = 0; i < text.length; ++i) {
            if (text[i] == " ") text[i] = "_";
        }
        return string.concat(prefix, string(text));
    }
}
