// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Vm
/// @notice The few forge cheatcodes this test suite uses, and nothing else. forge answers calls to
/// `VM_ADDRESS` natively; the signatures must match forge's exactly, since only the selector is sent.
/// @dev Kept deliberately small instead of vendoring forge-std. Add a cheatcode here only when a test
/// needs it. The `assert*` cheatcodes revert with "<error>: <left> != <right>" style messages.
interface Vm {
    /// @notice An event as `getRecordedLogs` returns it.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }
    // ---------------------------------------------------------------- caller and block environment

    /// @notice Sets `msg.sender` for the next call only.
    function prank(address msgSender) external;

    /// @notice Sets `msg.sender` for every call until `stopPrank`.
    function startPrank(address msgSender) external;

    /// @notice Ends a `startPrank`.
    function stopPrank() external;

    /// @notice Sets `block.timestamp`.
    function warp(uint256 newTimestamp) external;

    /// @notice Sets `block.chainid`.
    function chainId(uint256 newChainId) external;

    // ---------------------------------------------------------------- expectations on the next call

    /// @notice The next call must revert with exactly this 4-byte error (a custom error without arguments).
    function expectRevert(bytes4 revertData) external;

    /// @notice The next call must revert with exactly this revert data (selector and ABI-encoded arguments).
    function expectRevert(bytes calldata revertData) external;

    /// @notice The next event emitted must match the one emitted right after this call; all topics
    /// and the data are compared.
    function expectEmit() external;

    /// @notice As `expectEmit()`, and the event must also come from `emitter`.
    function expectEmit(address emitter) external;

    /// @notice As `expectEmit()`, choosing which topics (1 to 3) and whether the data are compared.
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;

    // ---------------------------------------------------------------- recorded events

    /// @notice Starts recording every event emitted, for `getRecordedLogs`.
    function recordLogs() external;

    /// @notice The events emitted since `recordLogs` or the last call of this, which it clears.
    function getRecordedLogs() external returns (Log[] memory logs);

    // ---------------------------------------------------------------- keys and signatures

    /// @notice Signs `digest` with `privateKey` (deterministic, RFC 6979), returning v in {27, 28}.
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);

    /// @notice The address of `privateKey`.
    function addr(uint256 privateKey) external pure returns (address keyAddr);

    /// @notice Gives `account` a name in traces.
    function label(address account, string calldata newLabel) external;

    // ---------------------------------------------------------------- gas snapshots (written to snapshots/)

    /// @notice Records, under `name` in the group named after the test contract, the gas the last
    /// call used from the callee's side (execution only: no intrinsic or calldata gas), and returns it.
    function snapshotGasLastCall(string calldata name) external returns (uint256 gasUsed);

    /// @notice Records `value` under `name` in the group named after the test contract.
    function snapshotValue(string calldata name, uint256 value) external;

    // ---------------------------------------------------------------- fuzzing

    /// @notice Discards the current fuzz input when `condition` is false.
    function assume(bool condition) external pure;

    // ---------------------------------------------------------------- assertions (revert on failure)

    function assertTrue(bool condition, string calldata error) external pure;

    function assertFalse(bool condition, string calldata error) external pure;

    function assertEq(bool left, bool right, string calldata error) external pure;

    function assertEq(uint256 left, uint256 right, string calldata error) external pure;

    function assertEq(address left, address right, string calldata error) external pure;

    function assertEq(bytes32 left, bytes32 right, string calldata error) external pure;

    function assertEq(string calldata left, string calldata right, string calldata error) external pure;

    function assertEq(bytes calldata left, bytes calldata right, string calldata error) external pure;

    function assertLe(uint256 left, uint256 right, string calldata error) external pure;

    function assertGe(uint256 left, uint256 right, string calldata error) external pure;
}
