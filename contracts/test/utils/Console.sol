// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Console
/// @notice Prints a labelled number in forge's "Logs:" output (shown with `-vv`), the way forge-std's
/// `console.log(string, uint256)` does: a static call to the address forge intercepts.
/// @dev A low-level call, because a high-level call would first check for code at an address that
/// has none and revert. The call's success is ignored on purpose: printing must never fail a test.
library Console {
    /// @dev The ASCII bytes of "console.log" read as an address, as forge-std uses it.
    address internal constant CONSOLE_ADDRESS = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory label, uint256 value) internal view {
        bytes memory payload = abi.encodeWithSignature("log(string,uint256)", label, value);
        address target = CONSOLE_ADDRESS;
        assembly ("memory-safe") {
            pop(staticcall(gas(), target, add(payload, 0x20), mload(payload), 0, 0))
        }
    }
}
