// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title ERC1271WalletMock
/// @notice A contract wallet for tests: a signature is valid when it is an ECDSA signature by the
/// wallet's `owner` key over the very hash the token asks about (no wallet-specific wrapping).
contract ERC1271WalletMock is IERC1271 {
    /// @dev The magic value EIP-1271 defines for "invalid"; any value other than the selector would do.
    bytes4 private constant _INVALID = 0xffffffff;

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return _INVALID;
    }
}
