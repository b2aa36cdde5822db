// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IBatchSettlement} from "./IBatchSettlement.sol";
import {IERC3009} from "./IERC3009.sol";

/// @title A fiat-backed stablecoin for machine payments, modelled on Circle's USDC (FiatToken v2.2)
/// @notice ERC-20 with 6 decimals, EIP-2612 permit, EIP-3009 authorizations, batch settlement of
/// signed payments with bitmap nonces, minters with allowances, pause, a blocklist and rescue of
/// tokens sent to the contract by mistake.
/// Roles (OpenZeppelin AccessControl): the default admin configures minters and grants every role;
/// `PAUSER_ROLE` pauses; `BLOCKLISTER_ROLE` keeps the blocklist; `RESCUER_ROLE` rescues tokens.
interface IStablecoin is IERC3009, IBatchSettlement {
    /// @notice Emitted when `minter` was allowed to mint up to `allowance` base units.
    event MinterConfigured(address indexed minter, uint256 allowance);

    /// @notice Emitted when `minter` lost its right to mint.
    event MinterRemoved(address indexed minter);

    /// @notice Emitted when `minter` minted `amount` to `to`.
    event Minted(address indexed minter, address indexed to, uint256 amount);

    /// @notice Emitted when `minter` burned `amount` of its own balance.
    event Burned(address indexed minter, uint256 amount);

    /// @notice Emitted when `account` was put on the blocklist.
    event Blocklisted(address indexed account);

    /// @notice Emitted when `account` was taken off the blocklist.
    event Unblocklisted(address indexed account);

    /// @notice Emitted when `amount` of `token` held by this contract was sent to `to`.
    event TokensRescued(address indexed token, address indexed to, uint256 amount);

    /// @notice `minter` may mint only `allowance` more base units, not `amount`.
    error MintAllowanceExceeded(address minter, uint256 allowance, uint256 amount);

    /// @notice `account` is on the blocklist and can neither send, receive nor approve.
    error AccountBlocklisted(address account);

    /// @notice Amounts minted or burned must be greater than zero.
    error ZeroAmount();

    /// @notice The zero address cannot be the admin, a minter, a blocklist entry or a rescue target.
    /// (Transfers to the zero address revert with OpenZeppelin's `ERC20InvalidReceiver`.)
    error ZeroAddress();

    /// @notice Allows `minter` to mint up to `allowance` base units, replacing any earlier allowance.
    /// @dev Only the default admin. Grants `MINTER_ROLE`.
    function configureMinter(address minter, uint256 allowance) external;

    /// @notice Revokes `minter`'s right to mint and clears its allowance. Only the default admin.
    function removeMinter(address minter) external;

    /// @notice The base units `minter` may still mint.
    function minterAllowance(address minter) external view returns (uint256);

    /// @notice Mints `amount` to `to`, consuming the caller's mint allowance. Only a minter.
    function mint(address to, uint256 amount) external;

    /// @notice Burns `amount` of the caller's own balance. Only a minter.
    function burn(uint256 amount) external;

    /// @notice Stops transfers, mints, burns, approvals, authorizations and batch settlements.
    /// Only `PAUSER_ROLE`.
    function pause() external;

    /// @notice Resumes what `pause` stopped. Only `PAUSER_ROLE`.
    function unpause() external;

    /// @notice Puts `account` on the blocklist. Only `BLOCKLISTER_ROLE`.
    function blocklist(address account) external;

    /// @notice Takes `account` off the blocklist. Only `BLOCKLISTER_ROLE`.
    function unblocklist(address account) external;

    /// @notice Whether `account` is on the blocklist.
    function isBlocklisted(address account) external view returns (bool);

    /// @notice Sends `amount` of `token` held by this contract to `to`. Only `RESCUER_ROLE`.
    function rescueERC20(address token, address to, uint256 amount) external;

    /// @notice EIP-2612 permit with a signature in bytes, so EIP-1271 contract wallets can sign too.
    function permit(address owner, address spender, uint256 value, uint256 deadline, bytes calldata signature) external;
}
