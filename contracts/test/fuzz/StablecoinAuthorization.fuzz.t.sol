// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice EIP-3009 authorizations signed with vm.sign over fuzzed keys, amounts, nonces and windows.
contract StablecoinAuthorizationFuzzTest is StablecoinFixture {
    /// @dev A funded payer with a fuzzed key and an authorization to `to` of at most its balance,
    /// valid in a fuzzed window [validAfter + 1, validBefore - 1] that contains at least one second.
    function _fuzzedAuthorization(uint256 keySeed, address to, uint256 value, uint256 validAfter, bytes32 nonce)
        internal
        returns (uint256 key, Authorization memory a)
    {
        key = boundPrivateKey(keySeed);
        a.from = vm.addr(key);
        a.to = to;
        uint256 funding = bound(value, 1, token.minterAllowance(minter));
        _mint(a.from, funding);
        a.value = bound(value, 0, funding);
        a.validAfter = bound(validAfter, 0, type(uint256).max - 2);
        a.validBefore = bound(uint256(keccak256(abi.encode(validAfter, nonce))), a.validAfter + 2, type(uint256).max);
        a.nonce = nonce;
    }

    /// @dev Warps to a time inside the authorization's window.
    function _warpInside(Authorization memory a, uint256 when) internal {
        vm.warp(bound(when, a.validAfter + 1, a.validBefore - 1));
    }

    function testFuzz_TransferWithAuthorization(
        uint256 keySeed,
        address to,
        uint256 value,
        uint256 validAfter,
        bytes32 nonce,
        uint256 when,
        bool asBytes
    ) public {
        vm.assume(to != address(0));
        (uint256 key, Authorization memory a) = _fuzzedAuthorization(keySeed, to, value, validAfter, nonce);
        _warpInside(a, when);
        uint256 supplyBefore = token.totalSupply();
        uint256 pairBefore = a.from == to ? token.balanceOf(to) : token.balanceOf(a.from) + token.balanceOf(to);
        uint256 toBefore = token.balanceOf(to);

        Sig memory sig = _sign(key, _transferDigest(a));
        if (asBytes) {
            token.transferWithAuthorization(a.from, to, a.value, a.validAfter, a.validBefore, nonce, _packed(sig));
        } else {
            token.transferWithAuthorization(
                a.from, to, a.value, a.validAfter, a.validBefore, nonce, sig.v, sig.r, sig.s
            );
        }

        assertTrue(token.authorizationState(a.from, nonce), "nonce spent");
        assertEq(token.totalSupply(), supplyBefore, "supply unchanged");
        if (a.from != to) {
            assertEq(token.balanceOf(a.from) + token.balanceOf(to), pairBefore, "pair balance conserved");
            assertEq(token.balanceOf(to), toBefore + a.value, "payee");
        }

        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, a.from, nonce));
        token.transferWithAuthorization(a.from, to, a.value, a.validAfter, a.validBefore, nonce, _packed(sig));
    }

    function testFuzz_ReceiveWithAuthorization(
        uint256 keySeed,
        uint256 value,
        uint256 validAfter,
        bytes32 nonce,
        uint256 when
    ) public {
        (uint256 key, Authorization memory a) = _fuzzedAuthorization(keySeed, carol, value, validAfter, nonce);
        _warpInside(a, when);

        bytes memory signature = _signBytes(key, _receiveDigest(a));
        vm.prank(carol);
        token.receiveWithAuthorization(a.from, carol, a.value, a.validAfter, a.validBefore, nonce, signature);

        assertEq(token.balanceOf(carol), a.value, "payee");
        assertTrue(token.authorizationState(a.from, nonce), "nonce spent");
    }

    function testFuzz_RevertWhen_AuthorizationOutsideItsWindow(
        uint256 keySeed,
        uint256 validAfter,
        bytes32 nonce,
        uint256 when,
        bool early
    ) public {
        (uint256 key, Authorization memory a) = _fuzzedAuthorization(keySeed, bob, 1e6, validAfter, nonce);
        bytes memory signature = _signBytes(key, _transferDigest(a));

        if (early) {
            uint256 at = bound(when, 0, a.validAfter);
            vm.warp(at);
            vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, a.validAfter, at));
        } else {
            uint256 at = bound(when, a.validBefore, type(uint256).max);
            vm.warp(at);
            vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, a.validBefore, at));
        }
        token.transferWithAuthorization(a.from, bob, a.value, a.validAfter, a.validBefore, nonce, signature);
    }

    function testFuzz_RevertWhen_AuthorizationSignedByAnotherKey(
        uint256 keySeed,
        uint256 otherKeySeed,
        uint256 value,
        bytes32 nonce
    ) public {
        uint256 otherKey = boundPrivateKey(otherKeySeed);
        (uint256 key, Authorization memory a) = _fuzzedAuthorization(keySeed, bob, value, 0, nonce);
        vm.assume(key != otherKey);
        _warpInside(a, block.timestamp);

        bytes memory signature = _signBytes(otherKey, _transferDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, a.from));
        token.transferWithAuthorization(a.from, bob, a.value, a.validAfter, a.validBefore, nonce, signature);
    }

    function testFuzz_CancelAuthorization(uint256 keySeed, bytes32 nonce, bool asBytes) public {
        (uint256 key, Authorization memory a) = _fuzzedAuthorization(keySeed, bob, 1e6, 0, nonce);
        _warpInside(a, block.timestamp);

        Sig memory cancel = _sign(key, _cancelDigest(a.from, nonce));
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationCanceled(a.from, nonce);
        if (asBytes) token.cancelAuthorization(a.from, nonce, _packed(cancel));
        else token.cancelAuthorization(a.from, nonce, cancel.v, cancel.r, cancel.s);
        assertTrue(token.authorizationState(a.from, nonce), "nonce spent");

        bytes memory signature = _signBytes(key, _transferDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, a.from, nonce));
        token.transferWithAuthorization(a.from, bob, a.value, a.validAfter, a.validBefore, nonce, signature);
    }
}
