// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice transferWithAuthorizations: many EIP-3009 transfers in one call, each one that cannot
/// settle skipped with its reason while the rest settle.
contract StablecoinAuthorizationBatchTest is StablecoinFixture {
    uint256 internal constant VALUE = 3e6;

    address internal relayer;

    function setUp() public override {
        super.setUp();
        relayer = makeAddr("relayer");
        _mint(bob, INITIAL_BALANCE);
    }

    function _signed(uint256 key, Authorization memory a)
        internal
        view
        returns (IERC3009.TransferAuthorization memory)
    {
        return IERC3009.TransferAuthorization({
            from: a.from,
            to: a.to,
            value: a.value,
            validAfter: a.validAfter,
            validBefore: a.validBefore,
            nonce: a.nonce,
            signature: _signBytes(key, _transferDigest(a))
        });
    }

    function _one(IERC3009.TransferAuthorization memory a)
        internal
        pure
        returns (IERC3009.TransferAuthorization[] memory batch)
    {
        batch = new IERC3009.TransferAuthorization[](1);
        batch[0] = a;
    }

    function _settle(IERC3009.TransferAuthorization[] memory batch) internal returns (uint256) {
        vm.prank(relayer);
        return token.transferWithAuthorizations(batch);
    }

    function _expectSkipped(
        uint256 index,
        IERC3009.TransferAuthorization memory a,
        IERC3009.AuthorizationSkipReason reason
    ) internal {
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationSkipped(index, a.from, a.nonce, reason);
    }

    function test_SettlesEveryValidAuthorizationInOneCall() public {
        IERC3009.TransferAuthorization[] memory batch = new IERC3009.TransferAuthorization[](3);
        batch[0] = _signed(aliceKey, _authorization(alice, carol, VALUE, keccak256("a1")));
        batch[1] = _signed(bobKey, _authorization(bob, carol, 2 * VALUE, keccak256("b1")));
        batch[2] = _signed(aliceKey, _authorization(alice, bob, VALUE, keccak256("a2")));
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationUsed(alice, keccak256("a1"));
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, carol, VALUE);
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationsSettled(relayer, 3, 0);

        assertEq(_settle(batch), 3);

        assertEq(token.balanceOf(carol), 3 * VALUE, "carol paid by both");
        assertEq(token.balanceOf(alice), INITIAL_BALANCE - 2 * VALUE, "alice paid twice");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE - VALUE, "bob paid 2 and was paid 1");
        assertTrue(token.authorizationState(alice, keccak256("a2")), "nonce spent");
    }

    function test_ASpentNonceCannotSettleAgainEitherWay() public {
        Authorization memory a = _authorization(alice, carol, VALUE, keccak256("once"));
        IERC3009.TransferAuthorization memory signed = _signed(aliceKey, a);
        assertEq(_settle(_one(signed)), 1);

        _expectSkipped(0, signed, IERC3009.AuthorizationSkipReason.AlreadyUsed);
        assertEq(_settle(_one(signed)), 0);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, alice, a.nonce));
        token.transferWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signed.signature);
        assertEq(token.balanceOf(carol), VALUE, "paid once");
    }

    function test_EachBadAuthorizationIsSkippedWithItsReasonAndTheRestSettle() public {
        _blocklist(makeAddr("blocked"));
        Authorization memory early = _authorization(alice, carol, VALUE, keccak256("early"));
        early.validAfter = block.timestamp;
        Authorization memory late = _authorization(alice, carol, VALUE, keccak256("late"));
        late.validBefore = block.timestamp;
        IERC3009.TransferAuthorization[] memory batch = new IERC3009.TransferAuthorization[](7);
        batch[0] = _signed(aliceKey, early);
        batch[1] = _signed(aliceKey, late);
        batch[2] = _signed(bobKey, _authorization(alice, carol, VALUE, keccak256("forged")));
        batch[3] = _signed(aliceKey, _authorization(alice, makeAddr("blocked"), VALUE, keccak256("blocked")));
        batch[4] = _signed(aliceKey, _authorization(alice, carol, INITIAL_BALANCE + 1, keccak256("too much")));
        batch[5] = _signed(aliceKey, _authorization(alice, address(0), VALUE, keccak256("nowhere")));
        batch[6] = _signed(bobKey, _authorization(bob, carol, VALUE, keccak256("good")));
        _expectSkipped(0, batch[0], IERC3009.AuthorizationSkipReason.NotYetValid);
        _expectSkipped(1, batch[1], IERC3009.AuthorizationSkipReason.Expired);
        _expectSkipped(2, batch[2], IERC3009.AuthorizationSkipReason.InvalidSignature);
        _expectSkipped(3, batch[3], IERC3009.AuthorizationSkipReason.Blocklisted);
        _expectSkipped(4, batch[4], IERC3009.AuthorizationSkipReason.InsufficientBalance);
        _expectSkipped(5, batch[5], IERC3009.AuthorizationSkipReason.InvalidRecipient);
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationsSettled(relayer, 1, 6);

        assertEq(_settle(batch), 1);

        assertEq(token.balanceOf(alice), INITIAL_BALANCE, "nothing of alice's moved");
        assertEq(token.balanceOf(carol), VALUE, "only the good one settled");
        assertFalse(token.authorizationState(alice, keccak256("forged")), "a skipped nonce stays unused");
    }

    function test_AContractWalletSignsThroughERC1271() public {
        Authorization memory a = _authorization(address(wallet), carol, VALUE, keccak256("wallet"));
        assertEq(_settle(_one(_signed(walletOwnerKey, a))), 1);
        assertEq(token.balanceOf(carol), VALUE);
    }

    function test_APausedTokenRevertsTheCall() public {
        _pause();
        IERC3009.TransferAuthorization memory a = _signed(aliceKey, _authorization(alice, carol, VALUE, keccak256("p")));
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _settle(_one(a));
    }

    function test_TooManyAuthorizationsRevert() public {
        uint256 limit = token.MAX_AUTHORIZATIONS_PER_CALL();
        IERC3009.TransferAuthorization[] memory batch = new IERC3009.TransferAuthorization[](limit + 1);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.TooManyAuthorizations.selector, limit + 1, limit));
        _settle(batch);
    }

    function test_AnEmptyCallSettlesNothing() public {
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationsSettled(relayer, 0, 0);
        assertEq(_settle(new IERC3009.TransferAuthorization[](0)), 0);
    }
}
