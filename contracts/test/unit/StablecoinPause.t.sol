// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Pause stops every balance change, approval and authorization; unpause resumes them.
contract StablecoinPauseTest is StablecoinFixture {
    bytes32 internal constant NONCE = keccak256("paused-nonce");

    function _expectPaused() internal {
        vm.expectRevert(Pausable.EnforcedPause.selector);
    }

    // ---------------------------------------------------------------- pause and unpause

    function test_Pause() public {
        vm.expectEmit(address(token));
        emit Pausable.Paused(pauser);
        vm.prank(pauser);
        token.pause();
        assertTrue(token.paused(), "paused");
    }

    function test_Unpause() public {
        _pause();
        vm.expectEmit(address(token));
        emit Pausable.Unpaused(pauser);
        vm.prank(pauser);
        token.unpause();
        assertFalse(token.paused(), "unpaused");
    }

    function test_RevertWhen_PauseCallerIsNotPauser() public {
        // Not even the admin pauses without the role.
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, PAUSER_ROLE)
        );
        vm.prank(admin);
        token.pause();
    }

    function test_RevertWhen_UnpauseCallerIsNotPauser() public {
        _pause();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, PAUSER_ROLE)
        );
        vm.prank(alice);
        token.unpause();
    }

    function test_RevertWhen_PauseWhilePaused() public {
        _pause();
        _expectPaused();
        vm.prank(pauser);
        token.pause();
    }

    function test_RevertWhen_UnpauseWhileNotPaused() public {
        vm.expectRevert(Pausable.ExpectedPause.selector);
        vm.prank(pauser);
        token.unpause();
    }

    // ---------------------------------------------------------------- what a pause stops

    function test_RevertWhen_Paused_Transfer() public {
        _pause();
        _expectPaused();
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(bob, 1);
    }

    function test_RevertWhen_Paused_TransferFrom() public {
        vm.prank(alice);
        token.approve(bob, 10e6);
        _pause();

        _expectPaused();
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, bob, 1);
    }

    function test_RevertWhen_Paused_Mint() public {
        _pause();
        _expectPaused();
        vm.prank(minter);
        token.mint(bob, 1);
    }

    function test_RevertWhen_Paused_Burn() public {
        _mint(minter, 1e6);
        _pause();
        _expectPaused();
        vm.prank(minter);
        token.burn(1e6);
    }

    function test_RevertWhen_Paused_Approve() public {
        _pause();
        _expectPaused();
        vm.prank(alice);
        token.approve(bob, 1);
    }

    function test_RevertWhen_Paused_PermitVRS() public {
        uint256 deadline = block.timestamp + 1 hours;
        Sig memory sig = _sign(aliceKey, _permitDigest(alice, bob, 1e6, 0, deadline));
        _pause();
        _expectPaused();
        token.permit(alice, bob, 1e6, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_Paused_PermitBytes() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _signBytes(aliceKey, _permitDigest(alice, bob, 1e6, 0, deadline));
        _pause();
        _expectPaused();
        token.permit(alice, bob, 1e6, deadline, signature);
    }

    function test_RevertWhen_Paused_TransferWithAuthorizationBytes() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _pause();
        _expectPaused();
        token.transferWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
    }

    function test_RevertWhen_Paused_TransferWithAuthorizationVRS() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        _pause();
        _expectPaused();
        token.transferWithAuthorization(
            a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s
        );
    }

    function test_RevertWhen_Paused_ReceiveWithAuthorizationBytes() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        _pause();
        _expectPaused();
        vm.prank(bob);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
    }

    function test_RevertWhen_Paused_ReceiveWithAuthorizationVRS() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        _pause();
        _expectPaused();
        vm.prank(bob);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_Paused_CancelAuthorizationBytes() public {
        bytes memory signature = _signBytes(aliceKey, _cancelDigest(alice, NONCE));
        _pause();
        _expectPaused();
        token.cancelAuthorization(alice, NONCE, signature);
    }

    function test_RevertWhen_Paused_CancelAuthorizationVRS() public {
        Sig memory sig = _sign(aliceKey, _cancelDigest(alice, NONCE));
        _pause();
        _expectPaused();
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);
    }

    // ---------------------------------------------------------------- what a pause leaves alone

    function test_Paused_AdministrationContinues() public {
        _pause();

        vm.prank(admin);
        token.configureMinter(carol, 5e6);
        assertEq(token.minterAllowance(carol), 5e6);

        _blocklist(bob);
        assertTrue(token.isBlocklisted(bob), "blocklisted");
    }

    function test_Unpause_ResumesEverything() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _pause();
        vm.prank(pauser);
        token.unpause();

        vm.prank(alice);
        assertTrue(token.transfer(bob, 1e6), "transfer");
        vm.prank(alice);
        assertTrue(token.approve(carol, 1e6), "approve");
        vm.prank(carol);
        assertTrue(token.transferFrom(alice, carol, 1e6), "transferFrom");
        _mint(minter, 1e6);
        vm.prank(minter);
        token.burn(1e6);
        token.transferWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);

        assertEq(token.balanceOf(alice), INITIAL_BALANCE - 3e6);
        assertEq(token.balanceOf(bob), 2e6);
        assertEq(token.balanceOf(carol), 1e6);
    }
}
