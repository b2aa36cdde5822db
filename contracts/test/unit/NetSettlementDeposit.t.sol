// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {NetSettlement} from "../../src/NetSettlement.sol";
import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {NetSettlementFixture} from "../utils/NetSettlementFixture.sol";

/// @notice Deployment, roles and deposits by EIP-3009 authorization.
contract NetSettlementDepositTest is NetSettlementFixture {
    bytes32 internal constant NONCE = keccak256("deposit nonce");

    // ---------------------------------------------------------------- constructor and roles

    function test_Constructor() public view {
        assertEq(net.token(), address(token), "token");
        assertEq(uint256(net.withdrawalDelaySeconds()), WITHDRAWAL_DELAY, "delay");
        assertEq(net.OPERATOR_ROLE(), OPERATOR_ROLE, "operator role");
        assertEq(net.MAX_ACCOUNTS_PER_WINDOW(), 1024, "max accounts");
        assertEq(net.MAX_DELTA(), 2 ** 95 - 1, "max delta");
        assertEq(uint256(net.MAX_WITHDRAWAL_DELAY_SECONDS()), 30 days, "max delay");
        assertEq(uint256(net.nextWindowId()), 0, "first window");
        assertTrue(net.hasRole(DEFAULT_ADMIN_ROLE, admin), "admin");
        assertTrue(net.hasRole(OPERATOR_ROLE, operator), "operator granted in setUp");
        assertFalse(net.hasRole(OPERATOR_ROLE, admin), "the admin is not an operator");
    }

    function test_Constructor_LongestDelay() public {
        NetSettlement deployed = new NetSettlement(address(token), admin, 30 days);
        assertEq(uint256(deployed.withdrawalDelaySeconds()), 30 days);
    }

    function test_RevertWhen_ConstructorTokenIsZero() public {
        vm.expectRevert(INetSettlement.ZeroAddress.selector);
        new NetSettlement(address(0), admin, WITHDRAWAL_DELAY);
    }

    function test_RevertWhen_ConstructorAdminIsZero() public {
        vm.expectRevert(INetSettlement.ZeroAddress.selector);
        new NetSettlement(address(token), address(0), WITHDRAWAL_DELAY);
    }

    function test_RevertWhen_ConstructorDelayIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.InvalidWithdrawalDelay.selector, 0, 30 days));
        new NetSettlement(address(token), admin, 0);
    }

    function test_RevertWhen_ConstructorDelayTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.InvalidWithdrawalDelay.selector, 30 days + 1, 30 days));
        new NetSettlement(address(token), admin, 30 days + 1);
    }

    function test_GrantOperator() public {
        vm.expectEmit(address(net));
        emit IAccessControl.RoleGranted(OPERATOR_ROLE, carol, admin);
        vm.prank(admin);
        net.grantRole(OPERATOR_ROLE, carol);
        assertTrue(net.hasRole(OPERATOR_ROLE, carol));
    }

    function test_RevertWhen_GrantOperatorCallerIsNotAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, operator, DEFAULT_ADMIN_ROLE
            )
        );
        vm.prank(operator);
        net.grantRole(OPERATOR_ROLE, carol);
    }

    // ---------------------------------------------------------------- deposit

    function test_Deposit() public {
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, NONCE);

        vm.expectEmit(address(net));
        emit INetSettlement.Deposited(alice, DEPOSIT);
        vm.expectEmit(address(token));
        emit IERC3009.AuthorizationUsed(alice, NONCE);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(alice, address(net), DEPOSIT);
        vm.prank(relayer);
        net.deposit(alice, DEPOSIT, _validAfter(), _validBefore(), NONCE, signature);

        assertEq(net.balanceOf(alice), DEPOSIT, "credited");
        assertEq(net.balanceOf(relayer), 0, "relayer not credited");
        assertEq(token.balanceOf(address(net)), DEPOSIT, "held");
        assertEq(token.balanceOf(alice), ACCOUNT_BALANCE - DEPOSIT, "payer");
        assertTrue(token.authorizationState(alice, NONCE), "nonce spent");
    }

    function test_Deposit_SubmittedByTheAccount() public {
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, NONCE);
        vm.prank(alice);
        net.deposit(alice, DEPOSIT, _validAfter(), _validBefore(), NONCE, signature);
        assertEq(net.balanceOf(alice), DEPOSIT);
    }

    function test_Deposit_Accumulates() public {
        _deposit(aliceKey, DEPOSIT);
        _deposit(aliceKey, 1);
        _deposit(bobKey, 7e6);
        assertEq(net.balanceOf(alice), DEPOSIT + 1, "alice");
        assertEq(net.balanceOf(bob), 7e6, "bob");
        assertEq(token.balanceOf(address(net)), DEPOSIT + 1 + 7e6, "held");
    }

    function test_RevertWhen_DepositAmountIsZero() public {
        vm.expectRevert(INetSettlement.ZeroAmount.selector);
        net.deposit(alice, 0, _validAfter(), _validBefore(), NONCE, "");
    }

    function test_RevertWhen_DepositCreditedToAnotherAccount() public {
        // The relayer cannot turn Alice's authorization into a deposit of its own.
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, relayer));
        vm.prank(relayer);
        net.deposit(relayer, DEPOSIT, _validAfter(), _validBefore(), NONCE, signature);
    }

    function test_RevertWhen_DepositAmountDiffersFromSigned() public {
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, NONCE);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.InvalidSignature.selector, alice));
        net.deposit(alice, DEPOSIT + 1, _validAfter(), _validBefore(), NONCE, signature);
    }

    function test_RevertWhen_DepositNonceReused() public {
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, NONCE);
        net.deposit(alice, DEPOSIT, _validAfter(), _validBefore(), NONCE, signature);

        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, alice, NONCE));
        net.deposit(alice, DEPOSIT, _validAfter(), _validBefore(), NONCE, signature);
        assertEq(net.balanceOf(alice), DEPOSIT, "credited once");
    }

    function test_RevertWhen_DepositAuthorizationNotYetValid() public {
        uint256 validAfter = block.timestamp;
        bytes memory signature = _receiveSignature(aliceKey, address(net), DEPOSIT, validAfter, _validBefore(), NONCE);
        vm.expectRevert(abi.encodeWithSelector(IERC3009.AuthorizationNotYetValid.selector, validAfter, block.timestamp));
        net.deposit(alice, DEPOSIT, validAfter, _validBefore(), NONCE, signature);
    }

    function test_RevertWhen_DepositExceedsTheTokenBalance() public {
        uint256 amount = ACCOUNT_BALANCE + 1;
        bytes memory signature = _receiveSignature(aliceKey, address(net), amount, NONCE);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, ACCOUNT_BALANCE, amount)
        );
        net.deposit(alice, amount, _validAfter(), _validBefore(), NONCE, signature);
        assertEq(net.balanceOf(alice), 0, "nothing credited");
    }

    function test_Deposit_OpensTheAccount() public {
        assertFalse(net.isOpen(alice), "not open before");
        _deposit(aliceKey, 1);
        assertTrue(net.isOpen(alice), "open");
    }

    function test_Deposit_UpToTheLargestBalance() public {
        uint256 largest = type(uint128).max;
        _mint(alice, largest);
        _deposit(aliceKey, largest);
        assertEq(net.balanceOf(alice), largest, "balance");
    }

    function test_RevertWhen_DepositPassesTheLargestBalance() public {
        uint256 largest = type(uint128).max;
        _mint(alice, largest);
        _deposit(aliceKey, largest);
        bytes32 nonce = _nextNonce();
        bytes memory signature = _receiveSignature(aliceKey, address(net), 1, nonce);
        vm.expectRevert(abi.encodeWithSelector(INetSettlement.BalanceOutOfRange.selector, alice, largest, 1));
        net.deposit(alice, 1, _validAfter(), _validBefore(), nonce, signature);
    }

    // ---------------------------------------------------------------- openAccounts

    function test_OpenAccounts() public {
        address[] memory accounts = new address[](2);
        (accounts[0], accounts[1]) = (alice, carol);
        vm.expectEmit(address(net));
        emit INetSettlement.AccountsOpened(2);
        vm.prank(relayer);
        net.openAccounts(accounts);
        assertTrue(net.isOpen(alice), "alice open");
        assertTrue(net.isOpen(carol), "carol open");
        assertFalse(net.isOpen(bob), "bob not listed");
        assertEq(net.balanceOf(alice), 0, "no balance given");
        (uint256 amount, uint64 availableAt) = net.withdrawalRequest(alice);
        assertEq(amount + availableAt, 0, "no withdrawal made up");
    }

    function test_OpenAccounts_SkipsOpenAccounts() public {
        _deposit(aliceKey, DEPOSIT);
        address[] memory accounts = new address[](3);
        (accounts[0], accounts[1], accounts[2]) = (alice, carol, carol);
        vm.expectEmit(address(net));
        emit INetSettlement.AccountsOpened(1);
        net.openAccounts(accounts);
        assertEq(net.balanceOf(alice), DEPOSIT, "deposit untouched");
        assertTrue(net.isOpen(carol), "carol open");
    }

    function test_RevertWhen_OpenAccountsListsTheZeroAddress() public {
        address[] memory accounts = new address[](2);
        accounts[0] = alice;
        vm.expectRevert(INetSettlement.ZeroAddress.selector);
        net.openAccounts(accounts);
        assertFalse(net.isOpen(alice), "nothing opened");
    }
}
