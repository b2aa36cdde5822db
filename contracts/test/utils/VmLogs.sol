// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title VmLogs
/// @notice forge's log-recording cheatcodes, kept apart from {Vm} so that file stays as it is. Used
/// where a test must prove how many events of a kind were emitted, which `expectEmit` cannot.
interface VmLogs {
    /// @notice One recorded event.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Starts recording every event emitted from now on.
    function recordLogs() external;

    /// @notice The events recorded since `recordLogs` (or since the last call), and clears them.
    function getRecordedLogs() external returns (Log[] memory logs);
}

/// @title RecordedLogs
/// @notice Counting helpers over recorded logs.
library RecordedLogs {
    /// @dev The same cheatcode address as `Test.vm`.
    VmLogs internal constant VM_LOGS = VmLogs(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    /// @notice How many of `logs` came from `emitter` with event signature hash `topic0`.
    function count(VmLogs.Log[] memory logs, address emitter, bytes32 topic0) internal pure returns (uint256 found) {
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter == emitter && logs[i].topics.length != 0 && logs[i].topics[0] == topic0) ++found;
        }
    }
}
