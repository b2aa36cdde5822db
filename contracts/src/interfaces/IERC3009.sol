// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title EIP-3009: transfer with authorization
/// @notice A holder signs an EIP-712 message off-chain; anyone (a relayer) submits it and pays the gas.
/// Nonces are random 32-byte values chosen by the signer, so many authorizations can be in flight at
/// once without ordering, which is what lets a fleet of robots pay concurrently.
interface IERC3009 {
    /// @notice Emitted when an authorization's nonce was spent by a transfer.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice Emitted when an authorizer cancelled an authorization before it was used.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The authorization is not valid before `validAfter`; the block time is `nowTimestamp`.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 nowTimestamp);

    /// @notice The authorization expired at `validBefore`; the block time is `nowTimestamp`.
    error AuthorizationExpired(uint256 validBefore, uint256 nowTimestamp);

    /// @notice The nonce of `authorizer` was already used or cancelled.
    error AuthorizationAlreadyUsed(address authorizer, bytes32 nonce);

    /// @notice The signature is not a valid signature of `signer` (ECDSA, or EIP-1271 for a contract).
    error InvalidSignature(address signer);

    /// @notice `receiveWithAuthorization` must be called by the payee `payee`, not `caller`.
    error CallerMustBePayee(address caller, address payee);

    /// @notice One `transferWithAuthorization`, as `transferWithAuthorizations` takes many.
    struct TransferAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        bytes signature;
    }

    /// @notice Why `transferWithAuthorizations` skipped an authorization instead of settling it.
    enum AuthorizationSkipReason {
        NotYetValid,
        Expired,
        AlreadyUsed,
        InvalidSignature,
        Blocklisted,
        InsufficientBalance,
        InvalidRecipient
    }

    /// @notice Emitted for authorization `index` of a `transferWithAuthorizations` call that did not settle.
    event AuthorizationSkipped(
        uint256 indexed index, address indexed authorizer, bytes32 nonce, AuthorizationSkipReason reason
    );

    /// @notice Emitted once per `transferWithAuthorizations` call.
    event AuthorizationsSettled(address indexed relayer, uint256 settled, uint256 skipped);

    /// @notice One call may carry at most `max` authorizations, not `count`.
    error TooManyAuthorizations(uint256 count, uint256 max);

    /// @notice Whether `nonce` of `authorizer` was used or cancelled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);

    /// @notice Transfers `value` from `from` to `to` with a signed authorization of `from`.
    /// @param validAfter The authorization is valid strictly after this unix time.
    /// @param validBefore The authorization is valid strictly before this unix time.
    /// @param nonce A unique random nonce chosen by `from`.
    /// @param signature A 65-byte ECDSA signature, or any signature an EIP-1271 wallet at `from` accepts.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /// @notice Settles many `transferWithAuthorization`s in one transaction, as x402 facilitators
    /// gather their buyers' payments. One that cannot settle now (its window, its nonce, its
    /// signature, a blocklisted party, the payer's balance) is skipped with `AuthorizationSkipped`
    /// and the others settle; a paused token reverts the call.
    /// @return settledCount How many of `authorizations` settled.
    function transferWithAuthorizations(TransferAuthorization[] calldata authorizations)
        external
        returns (uint256 settledCount);

    /// @notice As `transferWithAuthorization` with the ECDSA signature split into `v`, `r`, `s`.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice As `transferWithAuthorization`, but only the payee `to` may submit it, which stops a
    /// front-runner from moving the payer's funds into a contract before the payee's own call runs.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /// @notice As `receiveWithAuthorization` with the ECDSA signature split into `v`, `r`, `s`.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Cancels an unused authorization of `authorizer`, signed by `authorizer`.
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes calldata signature) external;

    /// @notice As `cancelAuthorization` with the ECDSA signature split into `v`, `r`, `s`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
}
