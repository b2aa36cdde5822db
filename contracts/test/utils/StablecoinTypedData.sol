// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title StablecoinTypedData
/// @notice EIP-712 digests for the stablecoin's permits and EIP-3009 authorizations, built from the
/// standards' type strings and never read from the token, so a wrong constant in the contract shows
/// up as a signature the contract rejects.
library StablecoinTypedData {
    /// @dev The domain version of the token (OpenZeppelin's ERC20Permit uses "1").
    string internal constant VERSION = "1";

    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// @dev EIP-2612.
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    /// @dev EIP-3009.
    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant CANCEL_AUTHORIZATION_TYPEHASH =
        keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");
    /// @dev Batch settlement (IBatchSettlement).
    bytes32 internal constant BATCH_PAYMENT_TYPEHASH =
        keccak256("BatchPayment(address from,address to,uint256 value,uint256 nonce,uint256 validBefore)");

    /// @notice The domain separator of a token named `name` at `token` on the current chain.
    function domainSeparator(string memory name, address token) internal view returns (bytes32) {
        return keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256(bytes(VERSION)), block.chainid, token)
        );
    }

    /// @notice The digest an EOA signs: `keccak256("\x19\x01" || domainSeparator || structHash)`.
    function digest(bytes32 separator, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", separator, structHash));
    }

    function permitStructHash(address owner, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
    }

    /// @param typehash `TRANSFER_WITH_AUTHORIZATION_TYPEHASH` or `RECEIVE_WITH_AUTHORIZATION_TYPEHASH`.
    function authorizationStructHash(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce));
    }

    function cancelStructHash(address authorizer, bytes32 nonce) internal pure returns (bytes32) {
        return keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce));
    }

    function batchPaymentStructHash(address from, address to, uint256 value, uint256 nonce, uint256 validBefore)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(BATCH_PAYMENT_TYPEHASH, from, to, value, nonce, validBefore));
    }
}
