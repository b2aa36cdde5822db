// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PaymentChannels} from "../../src/PaymentChannels.sol";
import {Stablecoin} from "../../src/Stablecoin.sol";
import {Test} from "../utils/Test.sol";
import {PaymentChannelsHandler} from "./PaymentChannelsHandler.sol";

/// @notice Escrow accounting of {PaymentChannels} under random opens, top-ups, payments, batch
/// claims (with stale and forged vouchers, and payees on the token's blocklist), cooperative closes
/// and timed withdrawals.
/// forge-config: default.invariant.fail-on-revert = true
contract PaymentChannelsInvariantTest is Test {
    string internal constant TOKEN_NAME = "Robot Dollar";

    Stablecoin internal token;
    PaymentChannels internal channels;
    PaymentChannelsHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        address admin = makeAddr("admin");
        address minter = makeAddr("minter");
        token = new Stablecoin(TOKEN_NAME, "RUSD", admin);
        vm.prank(admin);
        token.configureMinter(minter, type(uint256).max);
        channels = new PaymentChannels(address(token), 1 days);

        handler = new PaymentChannelsHandler(channels, token, TOKEN_NAME, minter);
        bytes32 blocklisterRole = token.BLOCKLISTER_ROLE();
        vm.prank(admin);
        token.grantRole(blocklisterRole, address(handler));

        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = PaymentChannelsHandler.open.selector;
        selectors[1] = PaymentChannelsHandler.topUp.selector;
        selectors[2] = PaymentChannelsHandler.pay.selector;
        selectors[3] = PaymentChannelsHandler.claim.selector;
        selectors[4] = PaymentChannelsHandler.closeCooperatively.selector;
        selectors[5] = PaymentChannelsHandler.requestWithdrawal.selector;
        selectors[6] = PaymentChannelsHandler.withdraw.selector;
        selectors[7] = PaymentChannelsHandler.setPayeeBlocklisted.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_ClaimedNeverExceedsDeposit() public view {
        bytes32[] memory ids = handler.channelIds();
        for (uint256 i = 0; i < ids.length; ++i) {
            (,, uint256 deposit, uint256 claimed,) = channels.channel(ids[i]);
            assertLe(claimed, deposit, "claimed > deposit");
        }
    }

    function invariant_HeldEqualsUnclaimedDeposits() public view {
        bytes32[] memory ids = handler.channelIds();
        uint256 unclaimed;
        for (uint256 i = 0; i < ids.length; ++i) {
            (,, uint256 deposit, uint256 claimed,) = channels.channel(ids[i]);
            unclaimed += deposit - claimed;
        }
        assertEq(token.balanceOf(address(channels)), unclaimed, "held != sum of (deposit - claimed)");
    }

    function invariant_EveryDepositedTokenIsPaidRefundedOrHeld() public view {
        assertEq(
            handler.ghostPaid() + handler.ghostRefunded() + token.balanceOf(address(channels)),
            handler.ghostDeposited(),
            "paid + refunded + held != deposited"
        );
        assertEq(_sumOfBalances(handler.payees()), handler.ghostPaid(), "payees hold exactly what was paid");
        assertEq(
            _sumOfBalances(handler.payers()),
            handler.ghostMinted() - handler.ghostDeposited() + handler.ghostRefunded(),
            "payers hold what they were not charged"
        );
    }

    function invariant_ContractMatchesTheModel() public view {
        bytes32[] memory ids = handler.channelIds();
        for (uint256 i = 0; i < ids.length; ++i) {
            PaymentChannelsHandler.ChannelModel memory expected = handler.model(ids[i]);
            (address payer, address payee, uint256 deposit, uint256 claimed, uint64 withdrawableAt) =
                channels.channel(ids[i]);
            if (expected.open) {
                assertEq(payer, expected.payer, "payer");
                assertEq(payee, expected.payee, "payee");
                assertEq(deposit, expected.deposit, "deposit");
                assertEq(claimed, expected.claimed, "claimed");
                assertEq(uint256(withdrawableAt), uint256(expected.withdrawableAt), "withdrawableAt");
            } else {
                assertEq(payer, address(0), "closed channel deleted");
            }
        }
    }

    function invariant_NoUnexpectedOutcome() public view {
        assertEq(handler.ghostUnexpectedOutcomes(), 0, "a call paid or failed against the model");
    }

    function _sumOfBalances(address[] memory accounts) internal view returns (uint256 sum) {
        for (uint256 i = 0; i < accounts.length; ++i) {
            sum += token.balanceOf(accounts[i]);
        }
    }
}
