// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {Stablecoin} from "../../src/Stablecoin.sol";
import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";
import {BatchPacking} from "../utils/BatchPacking.sol";
import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";
import {StablecoinTypedData} from "../utils/StablecoinTypedData.sol";

/// @notice Batch settlement: settled payments, every skip reason and its precedence, bitmap nonces
/// and their cancellation, signature domain separation, and the two conditions that revert a batch.
contract StablecoinBatchTest is StablecoinFixture {
    uint256 internal constant VALUE = 100e6;
    /// @dev Indexes into `accounts`.
    uint32 internal constant ALICE = 0;
    uint32 internal constant BOB = 1;
    uint32 internal constant CAROL = 2;
    /// @dev Half the secp256k1 order: ECDSA signatures with a larger `s` are malleable copies.
    uint256 internal constant HALF_ORDER = SECP256K1_ORDER / 2;

    /// @dev Who submits batches: a relayer that is neither payer nor payee and holds no role.
    address internal relayer;
    uint256 internal carolKey;
    address[] internal accounts;

    function setUp() public override {
        super.setUp();
        relayer = makeAddr("relayer");
        (, carolKey) = makeAddrAndKey("carol");
        _mint(bob, INITIAL_BALANCE);
        accounts.push(alice);
        accounts.push(bob);
        accounts.push(carol);
    }

    // ---------------------------------------------------------------- helpers

    function _payment(uint256 key, uint256 fromIndex, uint256 toIndex, uint256 value, uint256 nonce)
        internal
        view
        returns (IBatchSettlement.BatchPayment memory)
    {
        return _batchPayment(key, accounts, fromIndex, toIndex, value, nonce);
    }

    function _batch(IBatchSettlement.BatchPayment memory payment)
        internal
        pure
        returns (IBatchSettlement.BatchPayment[] memory payments)
    {
        payments = new IBatchSettlement.BatchPayment[](1);
        payments[0] = payment;
    }

    function _batch(IBatchSettlement.BatchPayment memory first, IBatchSettlement.BatchPayment memory second)
        internal
        pure
        returns (IBatchSettlement.BatchPayment[] memory payments)
    {
        payments = new IBatchSettlement.BatchPayment[](2);
        payments[0] = first;
        payments[1] = second;
    }

    function _settle(IBatchSettlement.BatchPayment[] memory payments) internal returns (uint256) {
        vm.prank(relayer);
        return token.settleBatch(accounts, BatchPacking.pack(payments));
    }

    function _expectSkipped(uint256 index, address from, uint256 nonce, IBatchSettlement.SkipReason reason) internal {
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchPaymentSkipped(index, from, nonce, reason);
    }

    function _expectBatchSettled(uint256 settledCount, uint256 skippedCount) internal {
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchSettled(relayer, settledCount, skippedCount);
    }

    /// @dev Submits `payment` alone and checks that it is skipped for `reason`, moves nothing and
    /// leaves its nonce unused.
    function _assertSkipped(
        IBatchSettlement.BatchPayment memory payment,
        address from,
        IBatchSettlement.SkipReason reason
    ) internal {
        uint256 aliceBefore = token.balanceOf(alice);
        uint256 bobBefore = token.balanceOf(bob);
        uint256 carolBefore = token.balanceOf(carol);
        _expectSkipped(0, from, payment.nonce, reason);
        _expectBatchSettled(0, 1);
        assertEq(_settle(_batch(payment)), 0, "settled count");

        assertEq(token.balanceOf(alice), aliceBefore, "alice balance");
        assertEq(token.balanceOf(bob), bobBefore, "bob balance");
        assertEq(token.balanceOf(carol), carolBefore, "carol balance");
        if (from != address(0) && reason != IBatchSettlement.SkipReason.NonceAlreadyUsed) {
            assertFalse(token.batchNonceUsed(from, payment.nonce), "skipped nonce stays unused");
        }
    }

    /// @dev `data` with the 32-byte word at byte `position` replaced by `word`.
    function _withWord(bytes memory data, uint256 position, uint256 word) internal pure returns (bytes memory) {
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), position), word)
        }
        return data;
    }

    // ---------------------------------------------------------------- constants

    function test_BatchPaymentTypehash() public view {
        assertEq(token.BATCH_PAYMENT_TYPEHASH(), StablecoinTypedData.BATCH_PAYMENT_TYPEHASH);
        assertTrue(token.BATCH_PAYMENT_TYPEHASH() != TRANSFER_WITH_AUTHORIZATION_TYPEHASH, "not EIP-3009 transfer");
        assertTrue(token.BATCH_PAYMENT_TYPEHASH() != RECEIVE_WITH_AUTHORIZATION_TYPEHASH, "not EIP-3009 receive");
    }

    function test_BatchLimits() public view {
        assertEq(token.MAX_BATCH_SIZE(), 5_000);
        assertEq(token.MAX_BATCH_ACCOUNTS(), 10_000);
    }

    // ---------------------------------------------------------------- settled payments

    function test_SettleBatch_SeveralPayersAndPayees() public {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](4);
        payments[0] = _payment(aliceKey, ALICE, CAROL, 100e6, 0);
        payments[1] = _payment(bobKey, BOB, CAROL, 50e6, 0);
        payments[2] = _payment(aliceKey, ALICE, BOB, 10e6, 1);
        payments[3] = _payment(bobKey, BOB, ALICE, 5e6, 300);

        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, carol, 100e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(bob, carol, 50e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, bob, 10e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(bob, alice, 5e6);
        _expectBatchSettled(4, 0);
        uint256 supplyBefore = token.totalSupply();
        assertEq(_settle(payments), 4, "settled count");

        assertEq(token.balanceOf(alice), INITIAL_BALANCE - 110e6 + 5e6, "alice");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE - 55e6 + 10e6, "bob");
        assertEq(token.balanceOf(carol), 150e6, "carol");
        assertEq(token.balanceOf(relayer), 0, "relayer untouched");
        assertEq(token.totalSupply(), supplyBefore, "supply unchanged");
        assertTrue(token.batchNonceUsed(alice, 0), "alice nonce 0");
        assertTrue(token.batchNonceUsed(alice, 1), "alice nonce 1");
        assertTrue(token.batchNonceUsed(bob, 0), "bob nonce 0");
        assertTrue(token.batchNonceUsed(bob, 300), "bob nonce 300");
        assertFalse(token.batchNonceUsed(bob, 1), "bob nonce 1");
    }

    function test_SettleBatch_EmptyBatch() public {
        _expectBatchSettled(0, 0);
        assertEq(_settle(new IBatchSettlement.BatchPayment[](0)), 0);
    }

    function test_SettleBatch_EarlierPaymentFundsLaterOne() public {
        IBatchSettlement.BatchPayment memory toCarol = _payment(aliceKey, ALICE, CAROL, VALUE, 0);
        IBatchSettlement.BatchPayment memory fromCarol = _payment(carolKey, CAROL, BOB, VALUE, 0);
        assertEq(_settle(_batch(toCarol, fromCarol)), 2);
        assertEq(token.balanceOf(carol), 0, "carol passed the payment on");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + VALUE, "bob");
    }

    function test_SettleBatch_NoncesInAnyOrder() public {
        IBatchSettlement.BatchPayment memory high = _payment(aliceKey, ALICE, BOB, 1e6, 70_000);
        IBatchSettlement.BatchPayment memory low = _payment(aliceKey, ALICE, BOB, 2e6, 3);
        assertEq(_settle(_batch(high)), 1, "high nonce first");
        assertEq(_settle(_batch(low)), 1, "then a low one");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + 3e6);
    }

    function test_SettleBatch_ZeroValue() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, bob, 0);
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, BOB, 0, 0))), 1);
        assertTrue(token.batchNonceUsed(alice, 0), "nonce spent");
    }

    function test_SettleBatch_PaymentToSelf() public {
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, alice, VALUE);
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, ALICE, VALUE, 0))), 1);
        assertEq(token.balanceOf(alice), INITIAL_BALANCE, "balance unchanged");
    }

    function test_SettleBatch_WholeBalance() public {
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, BOB, INITIAL_BALANCE, 0))), 1);
        assertEq(token.balanceOf(alice), 0, "alice emptied");
    }

    function test_SettleBatch_JustBeforeValidBefore() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.validBefore = block.timestamp + 1;
        _signBatchPayment(aliceKey, alice, bob, payment);
        assertEq(_settle(_batch(payment)), 1);
    }

    function test_SettleBatch_BlocklistedAccountNotInThePaymentDoesNotMatter() public {
        _blocklist(carol);
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 0))), 1);
    }

    function test_SettleBatch_NonceSpacesAreSeparate() public {
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 1))), 1);
        assertFalse(token.authorizationState(alice, bytes32(uint256(1))), "EIP-3009 nonce 1 unused");

        Authorization memory a = _authorization(alice, bob, VALUE, bytes32(uint256(2)));
        token.transferWithAuthorization(
            a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, _signBytes(aliceKey, _transferDigest(a))
        );
        assertFalse(token.batchNonceUsed(alice, 2), "batch nonce 2 unused");
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 2))), 1);
    }

    // ---------------------------------------------------------------- skip reasons

    function test_SettleBatch_SkipsFromIndexOutOfRange() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.fromIndex = 3;
        _assertSkipped(payment, address(0), IBatchSettlement.SkipReason.InvalidAccountIndex);
    }

    function test_SettleBatch_SkipsToIndexOutOfRange() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.toIndex = type(uint16).max;
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidAccountIndex);
    }

    function test_SettleBatch_SkipsPaymentToTheZeroAddress() public {
        accounts.push(address(0));
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, 3, VALUE, 0);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidAccountIndex);
    }

    function test_SettleBatch_SkipsPaymentFromTheZeroAddress() public {
        accounts.push(address(0));
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, 3, BOB, 0, 0);
        _assertSkipped(payment, address(0), IBatchSettlement.SkipReason.InvalidAccountIndex);
    }

    /// @dev The largest index a packed payment can carry is far outside three accounts: skipped,
    /// not a reason to revert the batch.
    function test_SettleBatch_SkipsIndexOutsideTheAccounts() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.fromIndex = type(uint16).max;

        _expectSkipped(0, address(0), 0, IBatchSettlement.SkipReason.InvalidAccountIndex);
        assertEq(_settle(_batch(payment)), 0, "nothing settled");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE, "bob unpaid");
    }

    function test_RevertWhen_SettleBatchPaymentsAreNotWholePackedPayments() public {
        bytes memory packed = BatchPacking.pack(_payment(aliceKey, ALICE, BOB, VALUE, 0));
        bytes memory short = new bytes(packed.length - 1);
        for (uint256 i = 0; i < short.length; ++i) {
            short[i] = packed[i];
        }
        vm.expectRevert(abi.encodeWithSelector(IBatchSettlement.MalformedBatch.selector, short.length));
        vm.prank(relayer);
        token.settleBatch(accounts, short);
    }

    /// @dev Two memory copies of one account could pay out the same balance twice.
    function test_RevertWhen_SettleBatchListsAnAccountTwice() public {
        accounts.push(alice);
        vm.expectRevert(abi.encodeWithSelector(IBatchSettlement.DuplicateAccount.selector, 3));
        _settle(_batch(_payment(aliceKey, 3, BOB, VALUE, 0)));
    }

    function test_SettleBatch_APayerPaysItself() public {
        _expectBatchSettled(1, 0);
        assertEq(_settle(_batch(_payment(aliceKey, ALICE, ALICE, VALUE, 0))), 1);
        assertEq(token.balanceOf(alice), INITIAL_BALANCE, "unchanged");
        assertTrue(token.batchNonceUsed(alice, 0), "nonce spent");
    }

    /// @dev The payer's nonce word held in memory is written back when a payment needs another
    /// word, and read again when a later payment comes back to it.
    function test_SettleBatch_NoncesMoveBetweenWordsWithinABatch() public {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](4);
        payments[0] = _payment(aliceKey, ALICE, BOB, 1, 2);
        payments[1] = _payment(aliceKey, ALICE, BOB, 1, 256 + 2);
        payments[2] = _payment(aliceKey, ALICE, BOB, 1, 3);
        payments[3] = _payment(aliceKey, ALICE, BOB, 1, 2); // spent by the first, two words ago
        _expectSkipped(3, alice, 2, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        assertEq(_settle(payments), 3);
        assertEq(token.batchNonceBitmap(alice, 0), (1 << 2) | (1 << 3), "word 0");
        assertEq(token.batchNonceBitmap(alice, 1), 1 << 2, "word 1");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + 3, "three paid");
    }

    /// @dev The accounts marked seen during a batch are cleared at its end, so a second batch in
    /// the same transaction may list them again.
    function test_SettleBatch_TwiceInOneTransaction() public {
        _settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 0)));
        _settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 1)));
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + 2 * VALUE, "both paid");
    }

    function test_SettleBatch_SkipsExpired() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        vm.warp(payment.validBefore); // valid only strictly before validBefore
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.Expired);
    }

    function test_SettleBatch_SkipsBlocklistedPayer() public {
        _blocklist(alice);
        _assertSkipped(_payment(aliceKey, ALICE, BOB, VALUE, 0), alice, IBatchSettlement.SkipReason.AccountBlocklisted);
    }

    function test_SettleBatch_SkipsBlocklistedPayee() public {
        _blocklist(bob);
        _assertSkipped(_payment(aliceKey, ALICE, BOB, VALUE, 0), alice, IBatchSettlement.SkipReason.AccountBlocklisted);
    }

    function test_SettleBatch_SkipsNonceUsedInEarlierBatch() public {
        _settle(_batch(_payment(aliceKey, ALICE, BOB, 1e6, 5)));
        _assertSkipped(_payment(aliceKey, ALICE, CAROL, 2e6, 5), alice, IBatchSettlement.SkipReason.NonceAlreadyUsed);
    }

    function test_SettleBatch_SkipsNonceUsedEarlierInTheSameBatch() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 5);
        _expectSkipped(1, alice, 5, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        _expectBatchSettled(1, 1);
        assertEq(_settle(_batch(payment, payment)), 1);
        assertEq(token.balanceOf(bob), INITIAL_BALANCE + VALUE, "paid once");
    }

    function test_SettleBatch_SkipsCancelledNonce() public {
        vm.prank(alice);
        token.cancelBatchNonces(0, 1 << 5);
        _assertSkipped(_payment(aliceKey, ALICE, BOB, VALUE, 5), alice, IBatchSettlement.SkipReason.NonceAlreadyUsed);
    }

    function test_SettleBatch_SkipsSignatureOfAnotherKey() public {
        _assertSkipped(_payment(bobKey, ALICE, BOB, VALUE, 0), alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsTamperedValue() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.value = VALUE + 1;
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsTamperedPayee() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.toIndex = CAROL;
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsTamperedNonce() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.nonce = 1;
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsTamperedValidBefore() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.validBefore += 1;
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsMalformedSignature() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.r = bytes32(0);
        payment.vs = bytes32(0);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    /// @dev A high `s` is rejected before recovery. In compact form only `s` up to 2**255 - 1 can be
    /// written, so the high values that reach the check are those in (n/2, 2**255).
    function test_SettleBatch_SkipsHighS() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payment.vs = bytes32(HALF_ORDER + 1);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    /// @dev The malleable twin `(r, n - s, v ^ 1)` of a valid signature, in compact form, is skipped,
    /// and the original still settles afterwards.
    function test_SettleBatch_SkipsMalleatedSignature() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        Sig memory sig = _sign(aliceKey, _batchPaymentDigest(alice, bob, VALUE, 0, payment.validBefore));
        uint256 twinS = SECP256K1_ORDER - uint256(sig.s);
        uint256 twinParity = sig.v == 27 ? 1 : 0;
        IBatchSettlement.BatchPayment memory twin = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        twin.vs = bytes32(twinS | (twinParity << 255));
        _assertSkipped(twin, alice, IBatchSettlement.SkipReason.InvalidSignature);

        assertEq(_settle(_batch(payment)), 1, "original settles");
    }

    function test_SettleBatch_SkipsSignatureForAnotherChain() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        _signBatchPayment(aliceKey, alice, bob, payment);
        vm.chainId(chainId);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_SettleBatch_SkipsSignatureForAnotherToken() public {
        Stablecoin other = new Stablecoin(NAME, SYMBOL, admin);
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        bytes32 digest = StablecoinTypedData.digest(
            StablecoinTypedData.domainSeparator(NAME, address(other)),
            StablecoinTypedData.batchPaymentStructHash(alice, bob, VALUE, 0, payment.validBefore)
        );
        (payment.r, payment.vs) = _signCompact(aliceKey, digest);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    /// @dev An EIP-3009 signature over the same payer, payee, value, nonce and expiry is not a batch
    /// payment signature, since the typehashes differ.
    function test_SettleBatch_SkipsEIP3009SignatureOverTheSameFields() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        Authorization memory a = Authorization({
            from: alice,
            to: bob,
            value: VALUE,
            validAfter: 0,
            validBefore: payment.validBefore,
            nonce: bytes32(payment.nonce)
        });
        (payment.r, payment.vs) = _signCompact(aliceKey, _transferDigest(a));
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InvalidSignature);
    }

    function test_RevertWhen_BatchPaymentSignatureUsedForTransferWithAuthorization() public {
        uint256 validBefore = block.timestamp + 1 hours;
        Sig memory sig = _sign(aliceKey, _batchPaymentDigest(alice, bob, VALUE, 0, validBefore));
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        token.transferWithAuthorization(alice, bob, VALUE, 0, validBefore, bytes32(0), sig.v, sig.r, sig.s);
    }

    function test_SettleBatch_SkipsInsufficientBalanceAndSettlesLater() public {
        IBatchSettlement.BatchPayment memory payment = _payment(aliceKey, ALICE, BOB, INITIAL_BALANCE + 1, 0);
        _assertSkipped(payment, alice, IBatchSettlement.SkipReason.InsufficientBalance);

        _mint(alice, 1);
        assertEq(_settle(_batch(payment)), 1, "the same signed payment settles once funded");
        assertEq(token.balanceOf(alice), 0, "alice");
    }

    function test_SettleBatch_LaterPaymentSkippedWhenEarlierOneSpentTheBalance() public {
        IBatchSettlement.BatchPayment memory first = _payment(aliceKey, ALICE, BOB, INITIAL_BALANCE, 0);
        IBatchSettlement.BatchPayment memory second = _payment(aliceKey, ALICE, CAROL, 1, 1);
        _expectSkipped(1, alice, 1, IBatchSettlement.SkipReason.InsufficientBalance);
        _expectBatchSettled(1, 1);
        assertEq(_settle(_batch(first, second)), 1);
        assertFalse(token.batchNonceUsed(alice, 1), "second nonce unused");
    }

    /// @dev Each payment fails several checks and reports only the first, in the documented order.
    function test_SettleBatch_ReportsTheFirstFailingCheck() public {
        vm.prank(alice);
        token.cancelBatchNonces(0, 1 << 7);
        _blocklist(carol);
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](6);
        // Index out of range and expired.
        payments[0] = _payment(aliceKey, ALICE, BOB, VALUE, 0);
        payments[0].fromIndex = 9;
        payments[0].validBefore = block.timestamp;
        // Expired, payee blocklisted and signed by the wrong key.
        payments[1] = _payment(bobKey, ALICE, CAROL, VALUE, 1);
        payments[1].validBefore = block.timestamp;
        // Payee blocklisted and nonce cancelled.
        payments[2] = _payment(aliceKey, ALICE, CAROL, VALUE, 7);
        // Nonce cancelled and signed by the wrong key.
        payments[3] = _payment(bobKey, ALICE, BOB, VALUE, 7);
        // Signed by the wrong key and above the balance.
        payments[4] = _payment(bobKey, ALICE, BOB, INITIAL_BALANCE + 1, 2);
        // Above the balance only.
        payments[5] = _payment(aliceKey, ALICE, BOB, INITIAL_BALANCE + 1, 3);

        _expectSkipped(0, address(0), 0, IBatchSettlement.SkipReason.InvalidAccountIndex);
        _expectSkipped(1, alice, 1, IBatchSettlement.SkipReason.Expired);
        _expectSkipped(2, alice, 7, IBatchSettlement.SkipReason.AccountBlocklisted);
        _expectSkipped(3, alice, 7, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        _expectSkipped(4, alice, 2, IBatchSettlement.SkipReason.InvalidSignature);
        _expectSkipped(5, alice, 3, IBatchSettlement.SkipReason.InsufficientBalance);
        _expectBatchSettled(0, 6);
        assertEq(_settle(payments), 0);
    }

    function test_SettleBatch_SkippedPaymentsDoNotStopValidOnes() public {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](4);
        payments[0] = _payment(bobKey, ALICE, BOB, VALUE, 0); // wrong key
        payments[1] = _payment(aliceKey, ALICE, CAROL, VALUE, 0);
        payments[2] = _payment(bobKey, BOB, CAROL, INITIAL_BALANCE + 1, 0); // above the balance
        payments[3] = _payment(bobKey, BOB, CAROL, VALUE, 1);

        _expectSkipped(0, alice, 0, IBatchSettlement.SkipReason.InvalidSignature);
        _expectSkipped(2, bob, 0, IBatchSettlement.SkipReason.InsufficientBalance);
        _expectBatchSettled(2, 2);
        assertEq(_settle(payments), 2);
        assertEq(token.balanceOf(carol), 2 * VALUE, "carol");
        assertFalse(token.batchNonceUsed(bob, 0), "skipped nonce unused");
        assertTrue(token.batchNonceUsed(alice, 0), "settled nonce used");
    }

    function test_SettleBatch_ReplayedBatchSettlesNothing() public {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](3);
        payments[0] = _payment(aliceKey, ALICE, CAROL, 1e6, 0);
        payments[1] = _payment(bobKey, BOB, CAROL, 2e6, 0);
        payments[2] = _payment(aliceKey, ALICE, BOB, 3e6, 1);
        assertEq(_settle(payments), 3, "first submission");

        _expectSkipped(0, alice, 0, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        _expectSkipped(1, bob, 0, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        _expectSkipped(2, alice, 1, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        _expectBatchSettled(0, 3);
        assertEq(_settle(payments), 0, "replay");
        assertEq(token.balanceOf(carol), 3e6, "carol paid once");
        assertEq(token.balanceOf(bob), INITIAL_BALANCE - 2e6 + 3e6, "bob paid once");
    }

    // ---------------------------------------------------------------- whole-batch reverts

    function test_RevertWhen_SettleBatchPaused() public {
        _pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        _settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 0)));
    }

    function test_RevertWhen_SettleBatchTooManyPayments() public {
        uint256 size = token.MAX_BATCH_SIZE() + 1;
        vm.expectRevert(abi.encodeWithSelector(IBatchSettlement.BatchTooLarge.selector, size, size - 1));
        _settle(new IBatchSettlement.BatchPayment[](size));
    }

    function test_RevertWhen_SettleBatchTooManyAccounts() public {
        uint256 size = token.MAX_BATCH_ACCOUNTS() + 1;
        vm.expectRevert(abi.encodeWithSelector(IBatchSettlement.BatchTooLarge.selector, size, size - 1));
        vm.prank(relayer);
        token.settleBatch(new address[](size), "");
    }

    /// @dev The largest batch is accepted; with no accounts every payment is skipped.
    function test_SettleBatch_MaxBatchSize() public {
        uint256 size = token.MAX_BATCH_SIZE();
        vm.prank(relayer);
        assertEq(token.settleBatch(new address[](0), BatchPacking.pack(new IBatchSettlement.BatchPayment[](size))), 0);
    }

    /// @dev An account word that is not an address is malformed calldata, which the ABI decoder
    /// rejects for the whole call, as for any other function.
    function test_RevertWhen_SettleBatchAccountIsNotAnAddress() public {
        bytes memory data =
            abi.encodeCall(token.settleBatch, (accounts, BatchPacking.pack(_payment(aliceKey, ALICE, BOB, VALUE, 0))));
        data = _withWord(data, 4 + 0x40 + 0x20, (1 << 160) | uint256(uint160(alice)));

        vm.prank(relayer);
        (bool success, bytes memory returned) = address(token).call(data);
        assertFalse(success, "reverted");
        assertEq(returned.length, 0, "no revert data");
    }

    // ---------------------------------------------------------------- nonces

    function test_BatchNonceUsed_UnusedIsFalse() public view {
        assertFalse(token.batchNonceUsed(alice, 0));
        assertEq(token.batchNonceBitmap(alice, 0), 0);
    }

    function test_BatchNonceBitmap_HoldsSettledNonces() public {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](3);
        payments[0] = _payment(aliceKey, ALICE, BOB, 1, 0);
        payments[1] = _payment(aliceKey, ALICE, BOB, 1, 5);
        payments[2] = _payment(aliceKey, ALICE, BOB, 1, (1 << 8) | 1);
        _settle(payments);

        assertEq(token.batchNonceBitmap(alice, 0), 1 | (1 << 5), "word 0");
        assertEq(token.batchNonceBitmap(alice, 1), 1 << 1, "word 1");
        assertEq(token.batchNonceBitmap(bob, 0), 0, "other owners untouched");
        assertTrue(token.batchNonceUsed(alice, 257), "nonce 257");
        assertFalse(token.batchNonceUsed(alice, 256), "nonce 256");
    }

    function test_CancelBatchNonces() public {
        uint256 mask = (1 << 3) | (1 << 200);
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchNoncesCancelled(alice, 1, mask);
        vm.prank(alice);
        token.cancelBatchNonces(1, mask);

        assertEq(token.batchNonceBitmap(alice, 1), mask, "bitmap");
        assertTrue(token.batchNonceUsed(alice, 256 + 3), "nonce 259");
        assertTrue(token.batchNonceUsed(alice, 256 + 200), "nonce 456");
        assertFalse(token.batchNonceUsed(alice, 256 + 4), "nonce 260");
        assertEq(token.batchNonceBitmap(bob, 1), 0, "only the caller's nonces");
        _assertSkipped(
            _payment(aliceKey, ALICE, BOB, VALUE, 256 + 3), alice, IBatchSettlement.SkipReason.NonceAlreadyUsed
        );
    }

    function test_CancelBatchNonces_KeepsUsedBits() public {
        _settle(_batch(_payment(aliceKey, ALICE, BOB, VALUE, 0)));
        vm.prank(alice);
        token.cancelBatchNonces(0, 1 << 1);
        assertEq(token.batchNonceBitmap(alice, 0), 3);
    }

    function test_CancelBatchNonces_WhilePaused() public {
        _pause();
        vm.prank(alice);
        token.cancelBatchNonces(0, 1);
        assertTrue(token.batchNonceUsed(alice, 0));
    }
}
