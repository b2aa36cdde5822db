// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {MerkleTreeBuilder} from "../utils/MerkleTreeBuilder.sol";
import {NetSettlementFixture} from "../utils/NetSettlementFixture.sol";
import {NetWindowChanges} from "../utils/NetWindowChanges.sol";

/// @notice Settling windows (ordering, validation, all-or-nothing application) and auditing a
/// payment's inclusion with a Merkle proof.
contract NetSettlementWindowTest is NetSettlementFixture {
    bytes32 internal constant PAYMENT_ID = keccak256("payment-1");
    /// @dev Any non-zero root, for windows whose payments do not matter to the test.
    bytes32 internal constant SOME_ROOT = keccak256("some root");
    /// @dev The largest magnitude a packed change holds: 95 bits.
    int256 internal constant MAX_DELTA = int256((1 << 95) - 1);
    uint256 internal constant MAX_BALANCE = type(uint128).max;

    function setUp() public override {
        super.setUp();
        _deposit(aliceKey, DEPOSIT);
        _deposit(bobKey, DEPOSIT);
    }

    function _expectRevertSettle(
        bytes memory revertData,
        uint64 windowId,
        bytes32 root,
        uint32 paymentCount,
        address[] memory accounts,
        int256[] memory deltas
    ) internal {
        vm.expectRevert(revertData);
        vm.prank(operator);
        net.settleWindow(windowId, root, paymentCount, NetWindowChanges.pack(accounts, deltas));
    }

    // ---------------------------------------------------------------- settleWindow

    function test_SettleWindow() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 30e6);

        vm.expectEmit(address(net));
        emit INetSettlement.WindowSettled(0, root, 1, 2);
        vm.prank(operator);
        net.settleWindow(0, root, 1, NetWindowChanges.pack(accounts, deltas));

        assertEq(net.balanceOf(alice), DEPOSIT - 30e6, "payer");
        assertEq(net.balanceOf(bob), DEPOSIT + 30e6, "payee");
        assertEq(uint256(net.nextWindowId()), 1, "next window");
        assertEq(net.windowRoot(0), root, "root recorded");
        assertEq(token.balanceOf(address(net)), 2 * DEPOSIT, "no token moved");
    }

    function test_SettleWindow_InSequence() public {
        for (uint64 windowId = 0; windowId < 3; ++windowId) {
            bytes32 paymentId = keccak256(abi.encode(windowId));
            (bytes32 root, address[] memory accounts, int256[] memory deltas) =
                _singlePayment(paymentId, alice, bob, 1e6);
            vm.prank(operator);
            net.settleWindow(windowId, root, 1, NetWindowChanges.pack(accounts, deltas));
            assertEq(net.windowRoot(windowId), root, "root");
        }
        assertEq(uint256(net.nextWindowId()), 3, "next window");
        assertEq(net.balanceOf(alice), DEPOSIT - 3e6, "payer");
        assertEq(net.balanceOf(bob), DEPOSIT + 3e6, "payee");
    }

    function test_SettleWindow_CreditsAnAccountWithoutDeposit() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(PAYMENT_ID, alice, carol, 5e6);
        _settle(root, 1, accounts, deltas);
        assertEq(net.balanceOf(carol), 5e6, "payee credited");
    }

    function test_SettleWindow_DebitsTheWholeBalance() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(PAYMENT_ID, alice, bob, DEPOSIT);
        _settle(root, 1, accounts, deltas);
        assertEq(net.balanceOf(alice), 0, "payer drained");
        assertFalse(net.isOpen(alice), "emptied, so closed");
        assertTrue(net.isOpen(bob), "credited, so open");
    }

    function test_SettleWindow_WithoutPayments() public {
        vm.expectEmit(address(net));
        emit INetSettlement.WindowSettled(0, bytes32(0), 0, 0);
        vm.prank(operator);
        net.settleWindow(0, bytes32(0), 0, new bytes32[](0));
        assertEq(uint256(net.nextWindowId()), 1, "next window");
        assertEq(net.windowRoot(0), bytes32(0), "no root");
    }

    function test_SettleWindow_PaymentsThatNetToNothing() public {
        // Alice pays Bob and Bob pays Alice the same amount: two payments, no balance changes.
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = _leaf(keccak256("a"), alice, bob, 1e6);
        leaves[1] = _leaf(keccak256("b"), bob, alice, 1e6);
        bytes32 root = MerkleTreeBuilder.root(leaves);
        _settle(root, 2, new address[](0), new int256[](0));
        assertEq(net.windowRoot(0), root, "root");
        assertEq(net.balanceOf(alice), DEPOSIT, "alice");
    }

    function test_SettleWindow_ZeroDelta() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, 0, bob, 0);
        _settle(SOME_ROOT, 1, accounts, deltas);
        assertEq(net.balanceOf(alice), DEPOSIT, "alice");
        assertEq(net.balanceOf(bob), DEPOSIT, "bob");
    }

    function test_SettleWindow_ThreeAccounts() public {
        _deposit(carolKey, DEPOSIT);
        address[] memory accounts = new address[](3);
        int256[] memory deltas = new int256[](3);
        (accounts[0], accounts[1], accounts[2]) = _sorted3(alice, bob, carol);
        deltas[0] = -10e6;
        deltas[1] = -5e6;
        deltas[2] = 15e6;
        _settle(SOME_ROOT, 2, accounts, deltas);
        assertEq(net.balanceOf(accounts[0]), DEPOSIT - 10e6, "first");
        assertEq(net.balanceOf(accounts[1]), DEPOSIT - 5e6, "second");
        assertEq(net.balanceOf(accounts[2]), DEPOSIT + 15e6, "third");
        assertEq(_sumOfBalances(accounts), 3 * DEPOSIT, "sum kept");
    }

    function test_SettleWindow_LargestDelta() public {
        assertEq(net.MAX_DELTA(), uint256(MAX_DELTA), "95 bits");
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, MAX_DELTA, bob, -MAX_DELTA);
        // Only possible when Bob holds that much.
        uint256 huge = uint256(MAX_DELTA);
        _mint(bob, huge);
        _deposit(bobKey, huge);
        _settle(SOME_ROOT, 1, accounts, deltas);
        assertEq(net.balanceOf(alice), DEPOSIT + huge, "credited");
        assertEq(net.balanceOf(bob), DEPOSIT, "debited");
        assertEq(token.balanceOf(address(net)), 2 * DEPOSIT + huge, "held");
    }

    function test_SettleWindow_ReadsThePackedLayout() public {
        // Written by hand rather than by the test encoder: the account in the high 160 bits, the
        // debit flag in bit 95, the magnitude below it.
        bytes32[] memory changes = new bytes32[](2);
        bytes32 aliceDebit = bytes32((uint256(uint160(alice)) << 96) | (1 << 95) | 7e6);
        bytes32 bobCredit = bytes32((uint256(uint160(bob)) << 96) | 7e6);
        (changes[0], changes[1]) = alice < bob ? (aliceDebit, bobCredit) : (bobCredit, aliceDebit);
        vm.prank(operator);
        net.settleWindow(0, SOME_ROOT, 1, changes);
        assertEq(net.balanceOf(alice), DEPOSIT - 7e6, "debited");
        assertEq(net.balanceOf(bob), DEPOSIT + 7e6, "credited");
    }

    function test_SettleWindow_DebitFlagWithoutMagnitudeChangesNothing() public {
        bytes32[] memory changes = new bytes32[](1);
        changes[0] = bytes32((uint256(uint160(alice)) << 96) | (1 << 95));
        vm.prank(operator);
        net.settleWindow(0, SOME_ROOT, 1, changes);
        assertEq(net.balanceOf(alice), DEPOSIT, "a debit of zero");
        assertTrue(net.isOpen(alice), "still open");
        assertEq(uint256(net.nextWindowId()), 1, "settled");
    }

    function test_SettleWindow_OpensACreditedAccount() public {
        assertFalse(net.isOpen(carol), "not open before");
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(PAYMENT_ID, alice, carol, 5e6);
        _settle(root, 1, accounts, deltas);
        assertTrue(net.isOpen(carol), "credited, so open");
    }

    function test_SettleWindow_CreditsAnOpenedAccount() public {
        address[] memory toOpen = new address[](1);
        toOpen[0] = carol;
        net.openAccounts(toOpen);
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(PAYMENT_ID, alice, carol, 5e6);
        _settle(root, 1, accounts, deltas);
        assertEq(net.balanceOf(carol), 5e6, "payee credited");
        assertTrue(net.isOpen(carol), "still open");
    }

    function test_SettleWindow_LeavesAPendingWithdrawalAlone() public {
        vm.prank(bob);
        net.requestWithdrawal(3e6);
        (uint256 amountBefore, uint64 availableBefore) = net.withdrawalRequest(bob);
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 2e6);
        _settle(root, 1, accounts, deltas);
        (uint256 amountAfter, uint64 availableAfter) = net.withdrawalRequest(bob);
        assertEq(amountAfter, amountBefore, "requested amount kept");
        assertEq(uint256(availableAfter), uint256(availableBefore), "availableAt kept");
        assertEq(net.balanceOf(bob), DEPOSIT + 2e6, "credited beside the request");
    }

    function test_SettleWindow_LargestBalance() public {
        // Bob is credited up to the largest balance, exactly.
        uint256 bobTopUp = MAX_BALANCE - DEPOSIT - uint256(MAX_DELTA);
        _mint(bob, bobTopUp);
        _deposit(bobKey, bobTopUp);
        _mint(alice, uint256(MAX_DELTA));
        _deposit(aliceKey, uint256(MAX_DELTA));
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -MAX_DELTA, bob, MAX_DELTA);
        _settle(SOME_ROOT, 1, accounts, deltas);
        assertEq(net.balanceOf(bob), MAX_BALANCE, "credited to the largest balance");
        assertEq(net.balanceOf(alice), DEPOSIT, "debited");
    }

    function test_RevertWhen_SettleWindowCreditPassesTheLargestBalance() public {
        uint256 headroom = MAX_BALANCE - DEPOSIT;
        _mint(bob, headroom);
        _deposit(bobKey, headroom);
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -1, bob, 1);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.BalanceOutOfRange.selector, bob, MAX_BALANCE, 1),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
        assertEq(net.balanceOf(alice), DEPOSIT, "nothing applied");
    }

    function test_SettleWindow_LargestWindow() public {
        uint256 count = net.MAX_ACCOUNTS_PER_WINDOW();
        address[] memory accounts = new address[](count);
        int256[] memory deltas = new int256[](count);
        for (uint256 i = 0; i < count; ++i) {
            accounts[i] = vm.addr(i + 1);
        }
        _sortAscending(accounts);
        _settle(SOME_ROOT, 512, accounts, deltas);
        assertEq(uint256(net.nextWindowId()), 1, "settled");
    }

    function test_SettleWindow_DuringAPendingWithdrawal() public {
        vm.prank(alice);
        net.requestWithdrawal(DEPOSIT);
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 40e6);
        _settle(root, 1, accounts, deltas);
        assertEq(net.balanceOf(alice), DEPOSIT - 40e6, "debited despite the request");
    }

    function test_RevertWhen_SettleWindowCallerIsNotOperator() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 1e6);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, OPERATOR_ROLE)
        );
        vm.prank(admin);
        net.settleWindow(0, root, 1, NetWindowChanges.pack(accounts, deltas));
    }

    function test_RevertWhen_SettleWindowSkipsAhead() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 1e6);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.WindowOutOfOrder.selector, 1, 0), 1, root, 1, accounts, deltas
        );
    }

    function test_RevertWhen_SettleWindowReplayed() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 1e6);
        _settle(root, 1, accounts, deltas);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.WindowOutOfOrder.selector, 0, 1), 0, root, 1, accounts, deltas
        );
        assertEq(net.balanceOf(bob), DEPOSIT + 1e6, "applied once");
    }

    function test_RevertWhen_SettleWindowTooManyAccounts() public {
        uint256 count = net.MAX_ACCOUNTS_PER_WINDOW() + 1;
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.TooManyAccounts.selector, count, count - 1),
            0,
            SOME_ROOT,
            type(uint32).max,
            new address[](count),
            new int256[](count)
        );
    }

    function test_RevertWhen_SettleWindowWithoutPaymentsHasARoot() public {
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.InconsistentWindow.selector, SOME_ROOT, 0, 0),
            0,
            SOME_ROOT,
            0,
            new address[](0),
            new int256[](0)
        );
    }

    function test_RevertWhen_SettleWindowWithoutPaymentsChangesBalances() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -1, bob, 1);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.InconsistentWindow.selector, bytes32(0), 0, 2),
            0,
            bytes32(0),
            0,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowWithPaymentsHasNoRoot() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -1, bob, 1);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.InconsistentWindow.selector, bytes32(0), 1, 2),
            0,
            bytes32(0),
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowHasMoreAccountsThanPaymentsCanTouch() public {
        _deposit(carolKey, DEPOSIT);
        address[] memory accounts = new address[](3);
        (accounts[0], accounts[1], accounts[2]) = _sorted3(alice, bob, carol);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.InconsistentWindow.selector, SOME_ROOT, 1, 3),
            0,
            SOME_ROOT,
            1,
            accounts,
            new int256[](3)
        );
    }

    function test_RevertWhen_SettleWindowRepeatsAnAccount() public {
        address[] memory accounts = new address[](2);
        int256[] memory deltas = new int256[](2);
        (accounts[0], accounts[1]) = (alice, alice);
        (deltas[0], deltas[1]) = (int256(-1e6), int256(1e6));
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.AccountsNotAscending.selector, 1, alice, alice),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowAccountsDescend() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -1e6, bob, 1e6);
        (accounts[0], accounts[1]) = (accounts[1], accounts[0]);
        (deltas[0], deltas[1]) = (deltas[1], deltas[0]);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.AccountsNotAscending.selector, 1, accounts[0], accounts[1]),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowIncludesTheZeroAddress() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(address(0), 1e6, alice, -1e6);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.AccountsNotAscending.selector, 0, address(0), address(0)),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowOverdrawsAnAccount() public {
        (address[] memory accounts, int256[] memory deltas) =
            _pair(alice, -_signed(DEPOSIT + 1), bob, _signed(DEPOSIT + 1));
        _expectRevertSettle(
            abi.encodeWithSelector(
                INetSettlement.NetChangeExceedsDeposit.selector, alice, DEPOSIT, -_signed(DEPOSIT + 1)
            ),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowDebitsAnAccountWithoutDeposit() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(carol, -1, bob, 1);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.NetChangeExceedsDeposit.selector, carol, 0, int256(-1)),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowCreatesMoney() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -1e6, bob, 2e6);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.DeltasDoNotSumToZero.selector, int256(1e6)),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowDestroysMoney() public {
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -3e6, bob, 1e6);
        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.DeltasDoNotSumToZero.selector, int256(-2e6)),
            0,
            SOME_ROOT,
            1,
            accounts,
            deltas
        );
    }

    function test_RevertWhen_SettleWindowFailsLate_NothingIsApplied() public {
        // Alice and Bob are credited first; the last account (the largest address) is overdrawn.
        // The window reverts as a whole: nothing of it may stick.
        address last = address(type(uint160).max);
        address[] memory accounts = new address[](3);
        int256[] memory deltas = new int256[](3);
        (accounts[0], deltas[0], accounts[1], deltas[1]) =
            alice < bob ? (alice, int256(1e6), bob, int256(1e6)) : (bob, int256(1e6), alice, int256(1e6));
        (accounts[2], deltas[2]) = (last, int256(-2e6));

        _expectRevertSettle(
            abi.encodeWithSelector(INetSettlement.NetChangeExceedsDeposit.selector, last, 0, int256(-2e6)),
            0,
            SOME_ROOT,
            2,
            accounts,
            deltas
        );
        assertEq(net.balanceOf(alice), DEPOSIT, "alice untouched");
        assertEq(net.balanceOf(bob), DEPOSIT, "bob untouched");
        assertEq(uint256(net.nextWindowId()), 0, "window not consumed");
        assertEq(net.windowRoot(0), bytes32(0), "no root");
    }

    // ---------------------------------------------------------------- paymentLeaf and verifyPayment

    function test_PaymentLeaf() public view {
        assertEq(net.paymentLeaf(PAYMENT_ID, alice, bob, 7), _leaf(PAYMENT_ID, alice, bob, 7));
    }

    function test_VerifyPayment_SinglePaymentWindow() public {
        (bytes32 root, address[] memory accounts, int256[] memory deltas) = _singlePayment(PAYMENT_ID, alice, bob, 3e6);
        _settle(root, 1, accounts, deltas);
        assertTrue(net.verifyPayment(0, PAYMENT_ID, alice, bob, 3e6, new bytes32[](0)), "included");
    }

    function test_VerifyPayment_EveryPaymentOfAWindow() public {
        bytes32[] memory leaves = _fivePayments();
        bytes32 root = MerkleTreeBuilder.root(leaves);
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -15, bob, 15);
        _settle(root, 5, accounts, deltas);

        for (uint256 i = 0; i < 5; ++i) {
            bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, i);
            assertTrue(net.verifyPayment(0, _paymentId(i), alice, bob, i + 1, proof), "included");
        }
    }

    function test_VerifyPayment_FalseForATamperedPayment() public {
        bytes32[] memory leaves = _fivePayments();
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -15, bob, 15);
        _settle(MerkleTreeBuilder.root(leaves), 5, accounts, deltas);
        bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, 2);

        assertTrue(net.verifyPayment(0, _paymentId(2), alice, bob, 3, proof), "the real payment");
        assertFalse(net.verifyPayment(0, _paymentId(2), alice, bob, 4, proof), "value");
        assertFalse(net.verifyPayment(0, _paymentId(2), alice, carol, 3, proof), "payee");
        assertFalse(net.verifyPayment(0, _paymentId(2), carol, bob, 3, proof), "payer");
        assertFalse(net.verifyPayment(0, _paymentId(3), alice, bob, 3, proof), "payment id");
        assertFalse(net.verifyPayment(0, _paymentId(2), alice, bob, 3, MerkleTreeBuilder.proof(leaves, 1)), "proof");
    }

    function test_VerifyPayment_FalseInAnotherWindow() public {
        bytes32[] memory leaves = _fivePayments();
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -15, bob, 15);
        _settle(MerkleTreeBuilder.root(leaves), 5, accounts, deltas);
        (bytes32 otherRoot, address[] memory otherAccounts, int256[] memory otherDeltas) =
            _singlePayment(PAYMENT_ID, bob, alice, 1);
        _settle(otherRoot, 1, otherAccounts, otherDeltas);

        bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, 0);
        assertTrue(net.verifyPayment(0, _paymentId(0), alice, bob, 1, proof), "its window");
        assertFalse(net.verifyPayment(1, _paymentId(0), alice, bob, 1, proof), "another window");
    }

    function test_VerifyPayment_FalseForAnUnsettledWindow() public view {
        assertFalse(net.verifyPayment(0, PAYMENT_ID, alice, bob, 1, new bytes32[](0)));
        assertFalse(net.verifyPayment(type(uint64).max, PAYMENT_ID, alice, bob, 1, new bytes32[](0)));
    }

    function test_VerifyPayment_FalseForAWindowWithoutPayments() public {
        _settle(bytes32(0), 0, new address[](0), new int256[](0));
        assertFalse(net.verifyPayment(0, bytes32(0), address(0), address(0), 0, new bytes32[](0)));
    }

    function test_VerifyPayment_InnerNodeIsNotAPayment() public {
        // verifyPayment rebuilds the leaf from a payment's fields and hashes it twice, so the proof
        // of an inner node cannot be passed off as the proof of a payment.
        bytes32[] memory leaves = _fivePayments();
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -15, bob, 15);
        _settle(MerkleTreeBuilder.root(leaves), 5, accounts, deltas);
        bytes32 inner = MerkleTreeBuilder.hashPair(leaves[0], leaves[1]);
        bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, 0);
        bytes32[] memory upper = new bytes32[](proof.length - 1);
        for (uint256 i = 1; i < proof.length; ++i) {
            upper[i - 1] = proof[i];
        }
        assertFalse(net.verifyPayment(0, inner, address(0), address(0), 0, upper), "inner node");
    }

    // ---------------------------------------------------------------- helpers

    function _paymentId(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("payment", i));
    }

    /// @dev Five payments from Alice to Bob of 1, 2, 3, 4 and 5 base units.
    function _fivePayments() internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](5);
        for (uint256 i = 0; i < 5; ++i) {
            leaves[i] = _leaf(_paymentId(i), alice, bob, i + 1);
        }
    }

    function _sorted3(address a, address b, address c) internal pure returns (address, address, address) {
        if (a > b) (a, b) = (b, a);
        if (b > c) (b, c) = (c, b);
        if (a > b) (a, b) = (b, a);
        return (a, b, c);
    }
}
