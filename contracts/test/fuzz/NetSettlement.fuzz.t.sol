// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {MerkleTreeBuilder} from "../utils/MerkleTreeBuilder.sol";
import {NetSettlementFixture} from "../utils/NetSettlementFixture.sol";
import {NetWindowChanges} from "../utils/NetWindowChanges.sol";

/// @notice Random windows netted from random payments keep the sum of balances; unbalanced or
/// overdrawing windows revert; random Merkle trees built here prove each payment's inclusion.
contract NetSettlementFuzzTest is NetSettlementFixture {
    uint256 internal constant ACCOUNT_COUNT = 6;
    uint32 internal constant PAYMENT_COUNT = 12;

    /// @dev Ascending, all with deposits made in `_fundAccounts`.
    address[] internal _accountList;

    /// @dev Gives `ACCOUNT_COUNT` fresh accounts random deposits; returns their sum.
    function _fundAccounts(uint256 seed) internal returns (uint256 total) {
        address[] memory accounts = new address[](ACCOUNT_COUNT);
        uint256[] memory keys = new uint256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            keys[i] = boundPrivateKey(uint256(keccak256(abi.encode("account", seed, i))));
            accounts[i] = vm.addr(keys[i]);
        }
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            uint256 amount = bound(uint256(keccak256(abi.encode("deposit", seed, i))), 1, 1_000e6);
            _mint(accounts[i], amount);
            _deposit(keys[i], amount);
            total += amount;
        }
        _sortAscending(accounts);
        _accountList = accounts;
    }

    /// @dev Random payments among the accounts, each at most its payer's balance so far, netted
    /// into per-account deltas (in `_accountList` order) and hashed into leaves.
    function _randomWindow(uint256 seed) internal view returns (int256[] memory deltas, bytes32[] memory leaves) {
        deltas = new int256[](ACCOUNT_COUNT);
        leaves = new bytes32[](PAYMENT_COUNT);
        for (uint256 k = 0; k < PAYMENT_COUNT; ++k) {
            uint256 entropy = uint256(keccak256(abi.encode("payment", seed, k)));
            uint256 from = entropy % ACCOUNT_COUNT;
            uint256 to = (from + 1 + (entropy >> 8) % (ACCOUNT_COUNT - 1)) % ACCOUNT_COUNT;
            uint256 available = uint256(_signed(net.balanceOf(_accountList[from])) + deltas[from]);
            uint256 value = bound(entropy >> 16, 0, available);
            deltas[from] -= _signed(value);
            deltas[to] += _signed(value);
            leaves[k] = _leaf(keccak256(abi.encode(seed, k)), _accountList[from], _accountList[to], value);
        }
    }

    function testFuzz_BalancedWindowKeepsTheSumOfBalances(uint256 seed) public {
        uint256 total = _fundAccounts(seed);
        (int256[] memory deltas, bytes32[] memory leaves) = _randomWindow(seed);
        uint256[] memory expected = new uint256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            expected[i] = uint256(_signed(net.balanceOf(_accountList[i])) + deltas[i]);
        }

        _settle(MerkleTreeBuilder.root(leaves), PAYMENT_COUNT, _accountList, deltas);

        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            assertEq(net.balanceOf(_accountList[i]), expected[i], "balance");
        }
        assertEq(_sumOfBalances(_accountList), total, "sum of balances kept");
        assertEq(token.balanceOf(address(net)), total, "tokens held equal the sum");
    }

    function testFuzz_RevertWhen_WindowIsUnbalanced(uint256 seed, uint256 extraSeed, uint256 indexSeed) public {
        _fundAccounts(seed);
        (int256[] memory deltas, bytes32[] memory leaves) = _randomWindow(seed);
        // A positive extra on any account never overdraws it, so the sum check is what fails. Up
        // to 1e28, so every delta stays within the 95 bits a packed change holds.
        int256 extra = _signed(bound(extraSeed, 1, 1e28));
        deltas[indexSeed % ACCOUNT_COUNT] += extra;
        bytes32[] memory changes = NetWindowChanges.pack(_accountList, deltas);

        vm.expectRevert(abi.encodeWithSelector(INetSettlement.DeltasDoNotSumToZero.selector, extra));
        vm.prank(operator);
        net.settleWindow(0, MerkleTreeBuilder.root(leaves), PAYMENT_COUNT, changes);
        assertEq(uint256(net.nextWindowId()), 0, "window not consumed");
    }

    function testFuzz_RevertWhen_WindowOverdraws(uint256 depositSeed, uint256 overdrawSeed) public {
        uint256 deposit = bound(depositSeed, 1, ACCOUNT_BALANCE);
        // Up to 1e28 above the deposit, within the 95 bits a packed change holds.
        uint256 debit = bound(overdrawSeed, deposit + 1, deposit + 1e28);
        _deposit(aliceKey, deposit);
        (address[] memory accounts, int256[] memory deltas) = _pair(alice, -_signed(debit), bob, _signed(debit));
        bytes32[] memory changes = NetWindowChanges.pack(accounts, deltas);

        vm.expectRevert(
            abi.encodeWithSelector(INetSettlement.NetChangeExceedsDeposit.selector, alice, deposit, -_signed(debit))
        );
        vm.prank(operator);
        net.settleWindow(0, keccak256("root"), 1, changes);
    }

    function testFuzz_RevertWhen_WindowOutOfOrder(uint64 windowId) public {
        vm.assume(windowId != 0);
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.WindowOutOfOrder.selector, windowId, 0));
        vm.prank(operator);
        net.settleWindow(windowId, bytes32(0), 0, new bytes32[](0));
    }

    function testFuzz_MerkleInclusion(uint256 seed, uint256 countSeed, uint256 indexSeed) public {
        uint256 count = bound(countSeed, 1, 64);
        uint256 index = indexSeed % count;
        bytes32[] memory leaves = new bytes32[](count);
        for (uint256 i = 0; i < count; ++i) {
            leaves[i] = _randomLeaf(seed, i);
        }
        // Balances need not change for the proof to be checked: the payments may net to nothing.
        // count <= 64, far below 2**32.
        // forge-lint: disable-next-line(unsafe-typecast)
        _settle(MerkleTreeBuilder.root(leaves), uint32(count), new address[](0), new int256[](0));

        (bytes32 paymentId, address payer, address payee, uint256 value) = _randomPayment(seed, index);
        bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, index);
        assertTrue(net.verifyPayment(0, paymentId, payer, payee, value, proof), "included");
        assertFalse(net.verifyPayment(0, paymentId, payer, payee, value + 1, proof), "tampered value");
        assertFalse(net.verifyPayment(1, paymentId, payer, payee, value, proof), "unsettled window");
        if (count > 1) {
            bytes32[] memory otherProof = MerkleTreeBuilder.proof(leaves, (index + 1) % count);
            if (leaves[index] != leaves[(index + 1) % count]) {
                assertFalse(net.verifyPayment(0, paymentId, payer, payee, value, otherProof), "another leaf's proof");
            }
        }
    }

    function testFuzz_WithdrawPaysTheSmallerOfRequestAndBalance(
        uint256 depositSeed,
        uint256 requestSeed,
        uint256 debitSeed
    ) public {
        uint256 deposit = bound(depositSeed, 1, ACCOUNT_BALANCE);
        uint256 requested = bound(requestSeed, 1, 2 * deposit);
        uint256 debit = bound(debitSeed, 0, deposit);
        _deposit(aliceKey, deposit);
        vm.prank(alice);
        net.requestWithdrawal(requested);
        (bytes32 root, address[] memory accounts, int256[] memory deltas) =
            _singlePayment(keccak256("p"), alice, bob, debit);
        _settle(root, 1, accounts, deltas);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);

        uint256 expected = requested < deposit - debit ? requested : deposit - debit;
        vm.expectEmit(address(net));
        emit INetSettlement.Withdrawn(alice, expected);
        vm.prank(alice);
        net.withdraw();
        assertEq(net.balanceOf(alice), deposit - debit - expected, "left");
        assertEq(token.balanceOf(address(net)), deposit - expected, "held");
    }

    function _randomPayment(uint256 seed, uint256 i)
        internal
        pure
        returns (bytes32 paymentId, address payer, address payee, uint256 value)
    {
        paymentId = keccak256(abi.encode("id", seed, i));
        payer = address(bytes20(keccak256(abi.encode("payer", seed, i))));
        payee = address(bytes20(keccak256(abi.encode("payee", seed, i))));
        value = uint256(keccak256(abi.encode("value", seed, i))) % 1e12;
    }

    function _randomLeaf(uint256 seed, uint256 i) internal pure returns (bytes32) {
        (bytes32 paymentId, address payer, address payee, uint256 value) = _randomPayment(seed, i);
        return _leaf(paymentId, payer, payee, value);
    }
}
