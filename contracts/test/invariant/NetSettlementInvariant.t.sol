// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {NetSettlement} from "../../src/NetSettlement.sol";
import {Stablecoin} from "../../src/Stablecoin.sol";
import {Test} from "../utils/Test.sol";
import {NetSettlementHandler} from "./NetSettlementHandler.sol";

/// @notice Deposit accounting and window ordering of {NetSettlement} under random deposits,
/// netted windows, broken windows and timed withdrawals.
/// forge-config: default.invariant.fail-on-revert = true
contract NetSettlementInvariantTest is Test {
    string internal constant TOKEN_NAME = "Robot Dollar";
    bytes32 internal constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    Stablecoin internal token;
    NetSettlement internal net;
    NetSettlementHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        address admin = makeAddr("admin");
        address minter = makeAddr("minter");
        address operator = makeAddr("operator");
        token = new Stablecoin(TOKEN_NAME, "RUSD", admin);
        vm.prank(admin);
        token.configureMinter(minter, type(uint256).max);
        net = new NetSettlement(address(token), admin, 1 hours);
        vm.prank(admin);
        net.grantRole(OPERATOR_ROLE, operator);

        handler = new NetSettlementHandler(net, token, TOKEN_NAME, operator, minter);

        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = NetSettlementHandler.deposit.selector;
        selectors[1] = NetSettlementHandler.settleWindow.selector;
        selectors[2] = NetSettlementHandler.settleBrokenWindow.selector;
        selectors[3] = NetSettlementHandler.requestWithdrawal.selector;
        selectors[4] = NetSettlementHandler.withdraw.selector;
        selectors[5] = NetSettlementHandler.openAccounts.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_TokensHeldEqualTheSumOfBalances() public view {
        address[] memory actors = handler.actors();
        uint256 sum;
        for (uint256 i = 0; i < actors.length; ++i) {
            sum += net.balanceOf(actors[i]);
        }
        assertEq(token.balanceOf(address(net)), sum, "held != sum of balances");
        assertEq(sum, handler.ghostDeposited() - handler.ghostWithdrawn(), "sum != deposited - withdrawn");
    }

    function invariant_BalancesMatchTheModel() public view {
        address[] memory actors = handler.actors();
        for (uint256 i = 0; i < actors.length; ++i) {
            assertEq(net.balanceOf(actors[i]), handler.modelBalance(actors[i]), "balance != model");
        }
    }

    function invariant_OpenAccountsMatchTheModel() public view {
        address[] memory actors = handler.actors();
        for (uint256 i = 0; i < actors.length; ++i) {
            assertEq(net.isOpen(actors[i]), handler.modelOpen(actors[i]), "open != model");
        }
    }

    function invariant_WindowsAreStrictlySequential() public view {
        bytes32[] memory roots = handler.ghostRoots();
        assertEq(uint256(net.nextWindowId()), roots.length, "next window != windows settled");
        uint64 windowCount = net.nextWindowId();
        for (uint64 windowId = 0; windowId < windowCount; ++windowId) {
            assertEq(net.windowRoot(windowId), roots[windowId], "window root");
        }
        assertEq(net.windowRoot(windowCount), bytes32(0), "no root beyond the last window");
    }

    function invariant_NoUnexpectedOutcome() public view {
        assertEq(handler.ghostUnexpectedOutcomes(), 0, "a call succeeded or failed against the model");
    }
}
