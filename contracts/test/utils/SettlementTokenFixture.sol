// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Stablecoin} from "../../src/Stablecoin.sol";
import {StablecoinTypedData} from "./StablecoinTypedData.sol";
import {Test} from "./Test.sol";

/// @title SettlementTokenFixture
/// @notice The project's real stablecoin for the settlement contracts' tests: deployed with a minter
/// that may mint without limit, plus EIP-3009 `ReceiveWithAuthorization` signing, the only way the
/// settlement contracts pull funds.
/// @dev Digests come from {StablecoinTypedData}, built from the standard's type strings, so a wrong
/// constant in a contract shows up as a rejected signature.
abstract contract SettlementTokenFixture is Test {
    string internal constant TOKEN_NAME = "Robot Dollar";
    string internal constant TOKEN_SYMBOL = "RUSD";

    /// @dev A realistic start time, so validity windows before "now" exist.
    uint256 internal constant START_TIME = 1_750_000_000;

    Stablecoin internal token;
    address internal tokenAdmin;
    address internal minter;
    address internal blocklister;

    function _deployToken() internal {
        tokenAdmin = makeAddr("tokenAdmin");
        minter = makeAddr("minter");
        blocklister = makeAddr("blocklister");
        token = new Stablecoin(TOKEN_NAME, TOKEN_SYMBOL, tokenAdmin);
        vm.label(address(token), "Stablecoin");
        bytes32 blocklisterRole = token.BLOCKLISTER_ROLE();
        vm.startPrank(tokenAdmin);
        token.configureMinter(minter, type(uint256).max);
        token.grantRole(blocklisterRole, blocklister);
        vm.stopPrank();
    }

    /// @notice Puts `account` on the token's blocklist: it can then neither send nor receive.
    function _blocklist(address account) internal {
        vm.prank(blocklister);
        token.blocklist(account);
    }

    function _unblocklist(address account) internal {
        vm.prank(blocklister);
        token.unblocklist(account);
    }

    function _mint(address to, uint256 amount) internal {
        vm.prank(minter);
        token.mint(to, amount);
    }

    /// @notice `from`'s 65-byte signature of a `ReceiveWithAuthorization` to `to`, valid from one
    /// second ago until one hour from now (see {_validAfter} and {_validBefore}).
    function _receiveSignature(uint256 fromKey, address to, uint256 value, bytes32 nonce)
        internal
        view
        returns (bytes memory)
    {
        return _receiveSignature(fromKey, to, value, _validAfter(), _validBefore(), nonce);
    }

    function _receiveSignature(
        uint256 fromKey,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) internal view returns (bytes memory) {
        bytes32 structHash = StablecoinTypedData.authorizationStructHash(
            StablecoinTypedData.RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            vm.addr(fromKey),
            to,
            value,
            validAfter,
            validBefore,
            nonce
        );
        bytes32 digest =
            StablecoinTypedData.digest(StablecoinTypedData.domainSeparator(TOKEN_NAME, address(token)), structHash);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(fromKey, digest);
        return abi.encodePacked(r, s, v);
    }

    function _validAfter() internal view returns (uint256) {
        return block.timestamp - 1;
    }

    function _validBefore() internal view returns (uint256) {
        return block.timestamp + 1 hours;
    }
}
