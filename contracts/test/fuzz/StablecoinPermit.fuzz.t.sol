// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Permits signed with vm.sign over fuzzed keys, values and deadlines.
contract StablecoinPermitFuzzTest is StablecoinFixture {
    function testFuzz_Permit(
        uint256 keySeed,
        address spender,
        uint256 value,
        uint256 deadline,
        uint256 when,
        bool asBytes
    ) public {
        vm.assume(spender != address(0));
        uint256 key = boundPrivateKey(keySeed);
        address owner = vm.addr(key);
        deadline = bound(deadline, START_TIME, type(uint256).max);
        vm.warp(bound(when, START_TIME, deadline));

        Sig memory sig = _sign(key, _permitDigest(owner, spender, value, 0, deadline));
        if (asBytes) token.permit(owner, spender, value, deadline, _packed(sig));
        else token.permit(owner, spender, value, deadline, sig.v, sig.r, sig.s);

        assertEq(token.allowance(owner, spender), value, "allowance");
        assertEq(token.nonces(owner), 1, "nonce");
    }

    function testFuzz_RevertWhen_PermitExpired(uint256 keySeed, uint256 deadline, uint256 when, bool asBytes) public {
        uint256 key = boundPrivateKey(keySeed);
        address owner = vm.addr(key);
        deadline = bound(deadline, 0, type(uint256).max - 1);
        vm.warp(bound(when, deadline + 1, type(uint256).max));

        Sig memory sig = _sign(key, _permitDigest(owner, bob, 1e6, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        if (asBytes) token.permit(owner, bob, 1e6, deadline, _packed(sig));
        else token.permit(owner, bob, 1e6, deadline, sig.v, sig.r, sig.s);
    }

    function testFuzz_RevertWhen_PermitSignedByAnotherKey(uint256 ownerKeySeed, uint256 signerKeySeed, uint256 value)
        public
    {
        uint256 ownerKey = boundPrivateKey(ownerKeySeed);
        uint256 signerKey = boundPrivateKey(signerKeySeed);
        vm.assume(ownerKey != signerKey);
        address owner = vm.addr(ownerKey);
        uint256 deadline = block.timestamp;

        Sig memory sig = _sign(signerKey, _permitDigest(owner, bob, value, 0, deadline));

        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, owner));
        token.permit(owner, bob, value, deadline, _packed(sig));

        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, vm.addr(signerKey), owner));
        token.permit(owner, bob, value, deadline, sig.v, sig.r, sig.s);
    }
}
