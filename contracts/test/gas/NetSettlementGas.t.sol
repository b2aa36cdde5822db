// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {Console} from "../utils/Console.sol";
import {SnapshotKeys} from "../utils/SnapshotKeys.sol";
import {NetSettlementFixture} from "../utils/NetSettlementFixture.sol";
import {NetWindowChanges} from "../utils/NetWindowChanges.sol";

/// @notice What settling a window costs per account. Run with `-vv` to see the numbers.
/// @dev setUp makes the deposits (and opens the accounts of 100 payees) in its own transaction, so the window reads every balance slot
/// cold, as a real settlement transaction does. setUp also settles an empty window 0, so the
/// measured window is a steady-state one (the very first window pays 17,100 more, once, to make
/// the window counter non-zero). The measured gas is the `settleWindow` call; the
/// transaction estimate adds the 21,000 base and the calldata cost (4 per zero byte, 16 per
/// non-zero byte).
contract NetSettlementGasTest is NetSettlementFixture {
    uint256 internal constant ACCOUNT_COUNT = 200;
    uint256 internal constant ACCOUNT_DEPOSIT = 10e6;
    bytes32 internal constant ROOT = keccak256("payments root");

    /// @dev Ascending, all with deposits.
    address[] internal _accounts;
    /// @dev Opened with `openAccounts` in setUp, without deposits: payees seen before.
    address[] internal _openedPayees;

    function setUp() public override {
        super.setUp();
        address[] memory accounts = new address[](ACCOUNT_COUNT);
        uint256[] memory keys = new uint256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            (accounts[i], keys[i]) = makeAddrAndKey(string.concat("gas account ", Strings.toString(i)));
            _mint(accounts[i], ACCOUNT_DEPOSIT);
            _deposit(keys[i], ACCOUNT_DEPOSIT);
        }
        _sortAscending(accounts);
        _accounts = accounts;
        address[] memory payees = new address[](ACCOUNT_COUNT / 2);
        for (uint256 i = 0; i < payees.length; ++i) {
            payees[i] = makeAddr(string.concat("opened payee ", Strings.toString(i)));
        }
        net.openAccounts(payees);
        _openedPayees = payees;
        _settle(bytes32(0), 0, new address[](0), new int256[](0));
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    function _measure(address[] memory accounts, int256[] memory deltas, string memory label)
        internal
        returns (uint256 executionGas, uint256 transactionGas)
    {
        // Encoded before measuring, so the measurement holds the call alone.
        bytes memory data =
            abi.encodeCall(INetSettlement.settleWindow, (1, ROOT, 200, NetWindowChanges.pack(accounts, deltas)));
        address target = address(net);
        vm.prank(operator);
        uint256 before = gasleft();
        (bool success,) = target.call(data);
        executionGas = before - gasleft();
        assertTrue(success, "settleWindow reverted");
        assertEq(uint256(net.nextWindowId()), 2, "settled");

        uint256 accountCount = accounts.length;
        transactionGas = 21_000 + _calldataGas(data) + executionGas;
        Console.log(string.concat(label, ": settleWindow execution gas"), executionGas);
        Console.log(string.concat(label, ": execution gas per account"), executionGas / accountCount);
        Console.log(
            string.concat(label, ": transaction gas per account (base + calldata + execution)"),
            transactionGas / accountCount
        );
        vm.snapshotValue(SnapshotKeys.named("transactionGasPerAccount_", label), transactionGas / accountCount);
    }

    /// @notice 200 funded accounts, alternately paying (-1.5 units) and paid (+1.5 units).
    /// @dev Per account: one cold read of its state word (2,100) and one write of a non-zero word
    /// (2,900). At 50 payments per account (the reference workload), 7,500 gas per account is 150
    /// gas per payment.
    function test_Gas_SettleWindow200Accounts() public {
        address[] memory accounts = _accounts;
        int256[] memory deltas = new int256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            deltas[i] = i % 2 == 0 ? int256(-1.5e6) : int256(1.5e6);
        }
        (uint256 executionGas, uint256 transactionGas) = _measure(accounts, deltas, "funded accounts");
        assertLe(executionGas / ACCOUNT_COUNT, 5_800, "per-account execution gas above target");
        assertLe(transactionGas / ACCOUNT_COUNT, 6_300, "per-account transaction gas above target");
    }

    /// @notice 100 funded payers and 100 payees opened before, without deposits: an opened
    /// payee's first credit rewrites a non-zero word, so it costs what a funded account does.
    function test_Gas_SettleWindow200AccountsHalfOpened() public {
        address[] memory accounts = new address[](ACCOUNT_COUNT);
        int256[] memory deltas = new int256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            (accounts[i], deltas[i]) =
                i % 2 == 0 ? (_accounts[i], int256(-1.5e6)) : (_openedPayees[i / 2], int256(1.5e6));
        }
        _sortTogether(accounts, deltas);
        (uint256 executionGas, uint256 transactionGas) = _measure(accounts, deltas, "half opened payees");
        assertLe(executionGas / ACCOUNT_COUNT, 5_800, "per-account execution gas, opened payees");
        assertLe(transactionGas / ACCOUNT_COUNT, 6_300, "per-account transaction gas, opened payees");
    }

    /// @notice 100 funded payers and 100 payees seen for the first time: each first credit writes a
    /// zero slot (20,000 instead of 2,900), which is what a window with new payees costs.
    function test_Gas_SettleWindow200AccountsHalfNew() public {
        address[] memory accounts = new address[](ACCOUNT_COUNT);
        int256[] memory deltas = new int256[](ACCOUNT_COUNT);
        for (uint256 i = 0; i < ACCOUNT_COUNT; ++i) {
            if (i % 2 == 0) {
                accounts[i] = _accounts[i];
                deltas[i] = -1.5e6;
            } else {
                accounts[i] = makeAddr(string.concat("new payee ", Strings.toString(i)));
                deltas[i] = 1.5e6;
            }
        }
        _sortTogether(accounts, deltas);
        (uint256 executionGas,) = _measure(accounts, deltas, "half new payees");
        assertLe(executionGas / ACCOUNT_COUNT, 15_000, "per-account execution gas, new payees");
    }

    /// @dev Insertion sort of accounts, their deltas moving with them.
    function _sortTogether(address[] memory accounts, int256[] memory deltas) internal pure {
        for (uint256 i = 1; i < accounts.length; ++i) {
            (address account, int256 delta) = (accounts[i], deltas[i]);
            uint256 j = i;
            while (j > 0 && accounts[j - 1] > account) {
                (accounts[j], deltas[j]) = (accounts[j - 1], deltas[j - 1]);
                --j;
            }
            (accounts[j], deltas[j]) = (account, delta);
        }
    }
}
