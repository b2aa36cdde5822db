// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice EIP-2612 permit: OpenZeppelin's v,r,s form and the contract's bytes form (EOA and EIP-1271).
contract StablecoinPermitTest is StablecoinFixture {
    uint256 internal constant VALUE = 123e6;
    uint256 internal deadline;

    function setUp() public override {
        super.setUp();
        deadline = block.timestamp + 1 days;
    }

    function _aliceSig(uint256 nonce) internal view returns (Sig memory) {
        return _sign(aliceKey, _permitDigest(alice, bob, VALUE, nonce, deadline));
    }

    // ---------------------------------------------------------------- v, r, s

    function test_Permit_VRS() public {
        Sig memory sig = _aliceSig(0);

        vm.expectEmit();
        emit IERC20.Approval(alice, bob, VALUE);
        vm.prank(carol); // anyone may submit
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);

        assertEq(token.allowance(alice, bob), VALUE);
        assertEq(token.nonces(alice), 1);
    }

    function test_Permit_VRS_AtTheDeadline() public {
        Sig memory sig = _aliceSig(0);
        vm.warp(deadline);
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);
        assertEq(token.allowance(alice, bob), VALUE);
    }

    function test_Permit_VRS_ThenTransferFrom() public {
        Sig memory sig = _aliceSig(0);
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);

        vm.prank(bob);
        assertTrue(token.transferFrom(alice, carol, VALUE), "transferFrom");
        assertEq(token.balanceOf(carol), VALUE);
        assertEq(token.allowance(alice, bob), 0);
    }

    function test_RevertWhen_PermitVRSExpired() public {
        Sig memory sig = _aliceSig(0);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_PermitVRSWrongSigner() public {
        Sig memory sig = _sign(bobKey, _permitDigest(alice, bob, VALUE, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, bob, alice));
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_PermitVRSTamperedValue() public {
        Sig memory sig = _aliceSig(0);
        // The contract recovers some other address from the digest of the value actually submitted.
        address recovered = ecrecover(_permitDigest(alice, bob, VALUE + 1, 0, deadline), sig.v, sig.r, sig.s);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, recovered, alice));
        token.permit(alice, bob, VALUE + 1, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_PermitVRSReplayed() public {
        Sig memory sig = _aliceSig(0);
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);

        // The nonce moved on, so the same signature now recovers to an unrelated address.
        address recovered = ecrecover(_permitDigest(alice, bob, VALUE, 1, deadline), sig.v, sig.r, sig.s);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, recovered, alice));
        token.permit(alice, bob, VALUE, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_PermitVRSHighS() public {
        Sig memory sig = _aliceSig(0);
        bytes32 highS = bytes32(SECP256K1_ORDER - uint256(sig.s));
        uint8 flippedV = sig.v == 27 ? 28 : 27;
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, highS));
        token.permit(alice, bob, VALUE, deadline, flippedV, sig.r, highS);
    }

    function test_RevertWhen_PermitVRSUnrecoverable() public {
        vm.expectRevert(ECDSA.ECDSAInvalidSignature.selector);
        token.permit(alice, bob, VALUE, deadline, 29, bytes32(uint256(1)), bytes32(uint256(1)));
    }

    function test_RevertWhen_PermitVRSForContractWallet() public {
        // The v,r,s form is plain ECDSA: a wallet owner's signature does not make the wallet the signer.
        Sig memory sig = _sign(walletOwnerKey, _permitDigest(address(wallet), bob, VALUE, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, walletOwner, address(wallet)));
        token.permit(address(wallet), bob, VALUE, deadline, sig.v, sig.r, sig.s);
    }

    // ---------------------------------------------------------------- bytes

    function test_Permit_Bytes() public {
        bytes memory signature = _packed(_aliceSig(0));

        vm.expectEmit();
        emit IERC20.Approval(alice, bob, VALUE);
        vm.prank(carol);
        token.permit(alice, bob, VALUE, deadline, signature);

        assertEq(token.allowance(alice, bob), VALUE);
        assertEq(token.nonces(alice), 1);
    }

    function test_Permit_Bytes_AtTheDeadline() public {
        bytes memory signature = _packed(_aliceSig(0));
        vm.warp(deadline);
        token.permit(alice, bob, VALUE, deadline, signature);
        assertEq(token.allowance(alice, bob), VALUE);
    }

    function test_Permit_Bytes_ContractWallet() public {
        bytes memory signature = _signBytes(walletOwnerKey, _permitDigest(address(wallet), bob, VALUE, 0, deadline));

        vm.expectEmit();
        emit IERC20.Approval(address(wallet), bob, VALUE);
        token.permit(address(wallet), bob, VALUE, deadline, signature);
        assertEq(token.allowance(address(wallet), bob), VALUE);
        assertEq(token.nonces(address(wallet)), 1);

        vm.prank(bob);
        assertTrue(token.transferFrom(address(wallet), bob, VALUE), "transferFrom");
        assertEq(token.balanceOf(bob), VALUE);
    }

    function test_Permit_NoncesAreSharedByBothForms() public {
        Sig memory first = _aliceSig(0);
        token.permit(alice, bob, VALUE, deadline, first.v, first.r, first.s);

        bytes memory second = _packed(_aliceSig(1));
        token.permit(alice, bob, VALUE, deadline, second);
        assertEq(token.nonces(alice), 2);
    }

    function test_RevertWhen_PermitBytesExpired() public {
        bytes memory signature = _packed(_aliceSig(0));
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(alice, bob, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesWrongSigner() public {
        bytes memory signature = _signBytes(bobKey, _permitDigest(alice, bob, VALUE, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, bob, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesTamperedSpender() public {
        bytes memory signature = _packed(_aliceSig(0));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, carol, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesReplayed() public {
        bytes memory signature = _packed(_aliceSig(0));
        token.permit(alice, bob, VALUE, deadline, signature);

        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, bob, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesHighS() public {
        Sig memory sig = _aliceSig(0);
        bytes memory malleated =
            abi.encodePacked(sig.r, bytes32(SECP256K1_ORDER - uint256(sig.s)), sig.v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, bob, VALUE, deadline, malleated);
    }

    function test_RevertWhen_PermitBytesWrongLength() public {
        Sig memory sig = _aliceSig(0);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, bob, VALUE, deadline, abi.encodePacked(sig.r, sig.s));
    }

    function test_RevertWhen_PermitBytesOwnerIsZero() public {
        // No signature recovers to the zero address, so nobody can approve on its behalf.
        bytes memory signature = _signBytes(aliceKey, _permitDigest(address(0), bob, VALUE, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, address(0)));
        token.permit(address(0), bob, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesContractWalletWrongKey() public {
        bytes memory signature = _signBytes(aliceKey, _permitDigest(address(wallet), bob, VALUE, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, address(wallet)));
        token.permit(address(wallet), bob, VALUE, deadline, signature);
    }

    function test_RevertWhen_PermitBytesSignedForAnotherChain() public {
        bytes memory signature = _packed(_aliceSig(0));
        vm.chainId(block.chainid + 1);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.permit(alice, bob, VALUE, deadline, signature);
    }
}
