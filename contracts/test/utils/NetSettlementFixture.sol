// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {NetSettlement} from "../../src/NetSettlement.sol";
import {SettlementTokenFixture} from "./SettlementTokenFixture.sol";
import {NetWindowChanges} from "./NetWindowChanges.sol";

/// @title NetSettlementFixture
/// @notice A deployed {NetSettlement} over the real stablecoin with an admin and an operator,
/// funded accounts with keys, and helpers to deposit, settle windows and build payment leaves.
/// @dev Leaves are rebuilt here from the specification, never read from the contract under test.
abstract contract NetSettlementFixture is SettlementTokenFixture {
    uint64 internal constant WITHDRAWAL_DELAY = 1 hours;
    uint256 internal constant ACCOUNT_BALANCE = 10_000e6;
    uint256 internal constant DEPOSIT = 100e6;

    bytes32 internal constant DEFAULT_ADMIN_ROLE = 0x00;
    bytes32 internal constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    NetSettlement internal net;
    address internal admin;
    address internal operator;
    /// @dev Submits deposits for others; never credited.
    address internal relayer;

    /// @dev Accounts with keys, funded with `ACCOUNT_BALANCE` tokens (not yet deposited).
    address internal alice;
    uint256 internal aliceKey;
    address internal bob;
    uint256 internal bobKey;
    address internal carol;
    uint256 internal carolKey;

    /// @dev Makes each deposit's EIP-3009 nonce unique.
    uint256 private _depositNonce;

    function setUp() public virtual {
        vm.warp(START_TIME);
        _deployToken();
        admin = makeAddr("admin");
        operator = makeAddr("operator");
        relayer = makeAddr("relayer");
        net = new NetSettlement(address(token), admin, WITHDRAWAL_DELAY);
        vm.label(address(net), "NetSettlement");
        vm.prank(admin);
        net.grantRole(OPERATOR_ROLE, operator);

        (alice, aliceKey) = makeAddrAndKey("alice");
        (bob, bobKey) = makeAddrAndKey("bob");
        (carol, carolKey) = makeAddrAndKey("carol");
        _mint(alice, ACCOUNT_BALANCE);
        _mint(bob, ACCOUNT_BALANCE);
        _mint(carol, ACCOUNT_BALANCE);
    }

    // ---------------------------------------------------------------- actions

    function _nextNonce() internal returns (bytes32) {
        return keccak256(abi.encode("deposit", ++_depositNonce));
    }

    /// @notice The account with `key` deposits `amount`; the relayer submits it.
    function _deposit(uint256 key, uint256 amount) internal {
        bytes32 nonce = _nextNonce();
        bytes memory signature = _receiveSignature(key, address(net), amount, nonce);
        vm.prank(relayer);
        net.deposit(vm.addr(key), amount, _validAfter(), _validBefore(), nonce, signature);
    }

    function _settle(bytes32 root, uint32 paymentCount, address[] memory accounts, int256[] memory deltas) internal {
        uint64 windowId = net.nextWindowId();
        vm.prank(operator);
        net.settleWindow(windowId, root, paymentCount, NetWindowChanges.pack(accounts, deltas));
    }

    // ---------------------------------------------------------------- building windows

    function _leaf(bytes32 paymentId, address payer, address payee, uint256 value) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(paymentId, payer, payee, value))));
    }

    /// @notice Two accounts in ascending order with their deltas.
    function _pair(address first, int256 firstDelta, address second, int256 secondDelta)
        internal
        pure
        returns (address[] memory accounts, int256[] memory deltas)
    {
        accounts = new address[](2);
        deltas = new int256[](2);
        (accounts[0], deltas[0], accounts[1], deltas[1]) =
            first < second ? (first, firstDelta, second, secondDelta) : (second, secondDelta, first, firstDelta);
    }

    /// @notice The window of one payment of `value` from `payer` to `payee`, and its root.
    function _singlePayment(bytes32 paymentId, address payer, address payee, uint256 value)
        internal
        pure
        returns (bytes32 root, address[] memory accounts, int256[] memory deltas)
    {
        root = _leaf(paymentId, payer, payee, value);
        (accounts, deltas) = _pair(payer, -_signed(value), payee, _signed(value));
    }

    /// @dev Test amounts are far below 2**255; the check keeps a typo from wrapping silently.
    function _signed(uint256 value) internal pure returns (int256) {
        require(value <= uint256(type(int256).max), "value too large");
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(value);
    }

    /// @dev Insertion sort; fine for the at most thousand addresses of a test.
    function _sortAscending(address[] memory accounts) internal pure {
        for (uint256 i = 1; i < accounts.length; ++i) {
            address current = accounts[i];
            uint256 j = i;
            while (j > 0 && accounts[j - 1] > current) {
                accounts[j] = accounts[j - 1];
                --j;
            }
            accounts[j] = current;
        }
    }

    function _sumOfBalances(address[] memory accounts) internal view returns (uint256 sum) {
        for (uint256 i = 0; i < accounts.length; ++i) {
            sum += net.balanceOf(accounts[i]);
        }
    }
}
