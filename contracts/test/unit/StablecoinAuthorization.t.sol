// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice EIP-3009 transferWithAuthorization, receiveWithAuthorization and cancelAuthorization, in
/// both the bytes and the v,r,s forms, for EOAs and an EIP-1271 contract wallet.
contract StablecoinAuthorizationTest is StablecoinFixture {
    uint256 internal constant VALUE = 250e6;
    bytes32 internal constant NONCE = keccak256("nonce-1");
    bytes32 internal constant OTHER_NONCE = keccak256("nonce-2");

    /// @dev Who submits transfers: a relayer that is neither payer nor payee.
    address internal relayer;

    function setUp() public override {
        super.setUp();
        relayer = makeAddr("relayer");
    }

    // ---------------------------------------------------------------- submission helpers

    function _transferBytes(Authorization memory a, bytes memory signature) internal {
        vm.prank(relayer);
        token.transferWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
    }

    function _transferVRS(Authorization memory a, Sig memory sig) internal {
        vm.prank(relayer);
        token.transferWithAuthorization(
            a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s
        );
    }

    function _receiveBytes(address caller, Authorization memory a, bytes memory signature) internal {
        vm.prank(caller);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
    }

    function _receiveVRS(address caller, Authorization memory a, Sig memory sig) internal {
        vm.prank(caller);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s);
    }

    function _expectUsed(Authorization memory a) internal {
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationUsed(a.from, a.nonce);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(a.from, a.to, a.value);
    }

    function _assertTransferred(Authorization memory a) internal view {
        assertTrue(token.authorizationState(a.from, a.nonce), "nonce spent");
        assertEq(token.balanceOf(a.from), INITIAL_BALANCE - a.value, "payer balance");
        assertEq(token.balanceOf(a.to), a.value, "payee balance");
    }

    function _expectRevertAlreadyUsed(address authorizer, bytes32 nonce) internal {
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, authorizer, nonce));
    }

    function _expectRevertInvalidSignature(address signer) internal {
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, signer));
    }

    // ---------------------------------------------------------------- authorizationState

    function test_AuthorizationState_UnusedNonceIsFalse() public view {
        assertFalse(token.authorizationState(alice, NONCE));
    }

    // ---------------------------------------------------------------- transferWithAuthorization

    function test_TransferWithAuthorization_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));

        _expectUsed(a);
        _transferBytes(a, signature);
        _assertTransferred(a);
        assertEq(token.balanceOf(relayer), 0, "relayer untouched");
    }

    function test_TransferWithAuthorization_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));

        _expectUsed(a);
        _transferVRS(a, sig);
        _assertTransferred(a);
    }

    function test_TransferWithAuthorization_JustAfterValidAfter() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validAfter = block.timestamp - 1;
        _transferBytes(a, _signBytes(aliceKey, _transferDigest(a)));
        _assertTransferred(a);
    }

    function test_TransferWithAuthorization_JustBeforeValidBefore() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validBefore = block.timestamp + 1;
        _transferVRS(a, _sign(aliceKey, _transferDigest(a)));
        _assertTransferred(a);
    }

    function test_TransferWithAuthorization_ContractWallet_Bytes() public {
        Authorization memory a = _authorization(address(wallet), bob, VALUE, NONCE);
        bytes memory signature = _signBytes(walletOwnerKey, _transferDigest(a));

        _expectUsed(a);
        _transferBytes(a, signature);
        _assertTransferred(a);
    }

    function test_TransferWithAuthorization_ContractWallet_VRS() public {
        Authorization memory a = _authorization(address(wallet), bob, VALUE, NONCE);
        Sig memory sig = _sign(walletOwnerKey, _transferDigest(a));

        _expectUsed(a);
        _transferVRS(a, sig);
        _assertTransferred(a);
    }

    function test_TransferWithAuthorization_NoncesArePerAuthorizer() public {
        _mint(bob, INITIAL_BALANCE);
        Authorization memory fromAlice = _authorization(alice, carol, 1e6, NONCE);
        Authorization memory fromBob = _authorization(bob, carol, 2e6, NONCE);

        _transferBytes(fromAlice, _signBytes(aliceKey, _transferDigest(fromAlice)));
        _transferBytes(fromBob, _signBytes(bobKey, _transferDigest(fromBob)));

        assertTrue(token.authorizationState(alice, NONCE), "alice");
        assertTrue(token.authorizationState(bob, NONCE), "bob");
        assertEq(token.balanceOf(carol), 3e6);
    }

    function test_TransferWithAuthorization_InAnyOrder() public {
        Authorization memory first = _authorization(alice, bob, 1e6, NONCE);
        Authorization memory second = _authorization(alice, bob, 2e6, OTHER_NONCE);
        bytes memory firstSignature = _signBytes(aliceKey, _transferDigest(first));
        bytes memory secondSignature = _signBytes(aliceKey, _transferDigest(second));

        _transferBytes(second, secondSignature);
        _transferBytes(first, firstSignature);
        assertEq(token.balanceOf(bob), 3e6);
    }

    function test_TransferWithAuthorization_FailureDoesNotSpendTheNonce() public {
        Authorization memory a = _authorization(alice, bob, INITIAL_BALANCE + 1, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));

        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, INITIAL_BALANCE + 1
            )
        );
        _transferBytes(a, signature);
        assertFalse(token.authorizationState(alice, NONCE), "still unused");

        _mint(alice, 1);
        _transferBytes(a, signature);
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + 1);
    }

    function test_RevertWhen_TransferAuthorizationNotYetValid_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validAfter = block.timestamp; // valid only strictly after validAfter
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));

        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, a.validAfter, block.timestamp)
        );
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationNotYetValid_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validAfter = block.timestamp + 10 minutes;
        Sig memory sig = _sign(aliceKey, _transferDigest(a));

        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, a.validAfter, block.timestamp)
        );
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationExpired_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        vm.warp(a.validBefore); // valid only strictly before validBefore

        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, a.validBefore, a.validBefore));
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationExpired_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        vm.warp(a.validBefore + 1 days);

        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, a.validBefore, a.validBefore + 1 days)
        );
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationReplayed_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _transferBytes(a, signature);

        _expectRevertAlreadyUsed(alice, NONCE);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationReplayed_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        _transferVRS(a, sig);

        _expectRevertAlreadyUsed(alice, NONCE);
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationReplayedInTheOtherForm() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        _transferBytes(a, _packed(sig));

        _expectRevertAlreadyUsed(alice, NONCE);
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationNonceUsedForAnotherTransfer() public {
        Authorization memory first = _authorization(alice, bob, 1e6, NONCE);
        _transferBytes(first, _signBytes(aliceKey, _transferDigest(first)));

        Authorization memory second = _authorization(alice, carol, 2e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(second));
        _expectRevertAlreadyUsed(alice, NONCE);
        _transferBytes(second, signature);
    }

    function test_RevertWhen_TransferAuthorizationCancelled_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        token.cancelAuthorization(alice, NONCE, _signBytes(aliceKey, _cancelDigest(alice, NONCE)));

        _expectRevertAlreadyUsed(alice, NONCE);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationCancelled_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        Sig memory cancel = _sign(aliceKey, _cancelDigest(alice, NONCE));
        token.cancelAuthorization(alice, NONCE, cancel.v, cancel.r, cancel.s);

        _expectRevertAlreadyUsed(alice, NONCE);
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationWrongSigner_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(bobKey, _transferDigest(a));
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationWrongSigner_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(bobKey, _transferDigest(a));
        _expectRevertInvalidSignature(alice);
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationTamperedValue() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        a.value = VALUE + 1;
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationTamperedPayee() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        a.to = relayer;
        _expectRevertInvalidSignature(alice);
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationTamperedWindow() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        a.validBefore += 1;
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationMalformedSignature() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, hex"1234");
    }

    function test_RevertWhen_TransferAuthorizationFromZeroAddress() public {
        Authorization memory a = _authorization(address(0), bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _expectRevertInvalidSignature(address(0));
        _transferBytes(a, signature);
    }

    function test_RevertWhen_ReceiveSignatureSubmittedAsTransfer() public {
        // The two typehashes differ, so a payee-only authorization cannot be front-run as a transfer.
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationSignedForAnotherChain() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        vm.chainId(block.chainid + 1);
        _expectRevertInvalidSignature(alice);
        _transferBytes(a, signature);
    }

    function test_RevertWhen_TransferAuthorizationExceedsBalance() public {
        Authorization memory a = _authorization(alice, bob, INITIAL_BALANCE + 1, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, INITIAL_BALANCE + 1
            )
        );
        _transferVRS(a, sig);
    }

    function test_RevertWhen_TransferAuthorizationToZeroAddress() public {
        Authorization memory a = _authorization(alice, address(0), VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        _transferBytes(a, signature);
    }

    function test_RevertWhen_ContractWalletRejectsSignature() public {
        Authorization memory a = _authorization(address(wallet), bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _expectRevertInvalidSignature(address(wallet));
        _transferBytes(a, signature);
    }

    // ---------------------------------------------------------------- receiveWithAuthorization

    function test_ReceiveWithAuthorization_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));

        _expectUsed(a);
        _receiveBytes(bob, a, signature);
        _assertTransferred(a);
    }

    function test_ReceiveWithAuthorization_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));

        _expectUsed(a);
        _receiveVRS(bob, a, sig);
        _assertTransferred(a);
    }

    function test_ReceiveWithAuthorization_ContractWallet() public {
        Authorization memory a = _authorization(address(wallet), bob, VALUE, NONCE);
        bytes memory signature = _signBytes(walletOwnerKey, _receiveDigest(a));

        _expectUsed(a);
        _receiveBytes(bob, a, signature);
        _assertTransferred(a);
    }

    function test_RevertWhen_ReceiveCallerIsNotPayee_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.CallerMustBePayee.selector, relayer, bob));
        _receiveBytes(relayer, a, signature);
    }

    function test_RevertWhen_ReceiveCallerIsNotPayee_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.CallerMustBePayee.selector, alice, bob));
        _receiveVRS(alice, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationNotYetValid_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validAfter = block.timestamp;
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, a.validAfter, block.timestamp)
        );
        _receiveBytes(bob, a, signature);
    }

    function test_RevertWhen_ReceiveAuthorizationNotYetValid_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        a.validAfter = block.timestamp + 1;
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, a.validAfter, block.timestamp)
        );
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationExpired_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        vm.warp(a.validBefore);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, a.validBefore, a.validBefore));
        _receiveBytes(bob, a, signature);
    }

    function test_RevertWhen_ReceiveAuthorizationExpired_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        vm.warp(a.validBefore + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IERC3009.AuthorizationExpired.selector, a.validBefore, a.validBefore + 1)
        );
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationReplayed_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        _receiveBytes(bob, a, signature);

        _expectRevertAlreadyUsed(alice, NONCE);
        _receiveBytes(bob, a, signature);
    }

    function test_RevertWhen_ReceiveAuthorizationReplayed_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        _receiveVRS(bob, a, sig);

        _expectRevertAlreadyUsed(alice, NONCE);
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationNonceUsedByTransfer() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        _transferBytes(a, _signBytes(aliceKey, _transferDigest(a)));

        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        _expectRevertAlreadyUsed(alice, NONCE);
        _receiveBytes(bob, a, signature);
    }

    function test_RevertWhen_ReceiveAuthorizationCancelled() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        token.cancelAuthorization(alice, NONCE, _signBytes(aliceKey, _cancelDigest(alice, NONCE)));

        _expectRevertAlreadyUsed(alice, NONCE);
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationWrongSigner_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        bytes memory signature = _signBytes(bobKey, _receiveDigest(a));
        _expectRevertInvalidSignature(alice);
        _receiveBytes(bob, a, signature);
    }

    function test_RevertWhen_ReceiveAuthorizationWrongSigner_VRS() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(bobKey, _receiveDigest(a));
        _expectRevertInvalidSignature(alice);
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_TransferSignatureSubmittedAsReceive() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        _expectRevertInvalidSignature(alice);
        _receiveVRS(bob, a, sig);
    }

    function test_RevertWhen_ReceiveAuthorizationExceedsBalance() public {
        Authorization memory a = _authorization(alice, bob, INITIAL_BALANCE + 1, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector, alice, INITIAL_BALANCE, INITIAL_BALANCE + 1
            )
        );
        _receiveBytes(bob, a, signature);
    }

    // ---------------------------------------------------------------- cancelAuthorization

    function test_CancelAuthorization_Bytes() public {
        bytes memory signature = _signBytes(aliceKey, _cancelDigest(alice, NONCE));

        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationCanceled(alice, NONCE);
        vm.prank(relayer);
        token.cancelAuthorization(alice, NONCE, signature);

        assertTrue(token.authorizationState(alice, NONCE), "nonce spent");
        assertEq(token.balanceOf(alice), INITIAL_BALANCE);
    }

    function test_CancelAuthorization_VRS() public {
        Sig memory sig = _sign(aliceKey, _cancelDigest(alice, NONCE));

        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationCanceled(alice, NONCE);
        vm.prank(relayer);
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);

        assertTrue(token.authorizationState(alice, NONCE), "nonce spent");
    }

    function test_CancelAuthorization_ContractWallet() public {
        bytes memory signature = _signBytes(walletOwnerKey, _cancelDigest(address(wallet), NONCE));

        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationCanceled(address(wallet), NONCE);
        token.cancelAuthorization(address(wallet), NONCE, signature);
        assertTrue(token.authorizationState(address(wallet), NONCE), "nonce spent");
    }

    function test_CancelAuthorization_LeavesOtherNoncesUsable() public {
        token.cancelAuthorization(alice, NONCE, _signBytes(aliceKey, _cancelDigest(alice, NONCE)));

        Authorization memory a = _authorization(alice, bob, VALUE, OTHER_NONCE);
        _transferBytes(a, _signBytes(aliceKey, _transferDigest(a)));
        _assertTransferred(a);
    }

    function test_RevertWhen_CancelUsedAuthorization_Bytes() public {
        Authorization memory a = _authorization(alice, bob, VALUE, NONCE);
        _transferBytes(a, _signBytes(aliceKey, _transferDigest(a)));

        bytes memory signature = _signBytes(aliceKey, _cancelDigest(alice, NONCE));
        _expectRevertAlreadyUsed(alice, NONCE);
        token.cancelAuthorization(alice, NONCE, signature);
    }

    function test_RevertWhen_CancelTwice_VRS() public {
        Sig memory sig = _sign(aliceKey, _cancelDigest(alice, NONCE));
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);

        _expectRevertAlreadyUsed(alice, NONCE);
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_CancelWrongSigner_Bytes() public {
        bytes memory signature = _signBytes(bobKey, _cancelDigest(alice, NONCE));
        _expectRevertInvalidSignature(alice);
        token.cancelAuthorization(alice, NONCE, signature);
    }

    function test_RevertWhen_CancelWrongSigner_VRS() public {
        Sig memory sig = _sign(bobKey, _cancelDigest(alice, NONCE));
        _expectRevertInvalidSignature(alice);
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_CancelSignatureForAnotherNonce() public {
        Sig memory sig = _sign(aliceKey, _cancelDigest(alice, OTHER_NONCE));
        _expectRevertInvalidSignature(alice);
        token.cancelAuthorization(alice, NONCE, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_CancelContractWalletWrongKey() public {
        bytes memory signature = _signBytes(aliceKey, _cancelDigest(address(wallet), NONCE));
        _expectRevertInvalidSignature(address(wallet));
        token.cancelAuthorization(address(wallet), NONCE, signature);
    }
}
