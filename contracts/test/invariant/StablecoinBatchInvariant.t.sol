// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Stablecoin} from "../../src/Stablecoin.sol";
import {Test} from "../utils/Test.sol";
import {BatchSettlementHandler} from "./BatchSettlementHandler.sol";

/// @notice Supply accounting, single settlement of every (payer, nonce) and complete accounting of
/// submitted payments under random batches mixed with mints, blocklisting and nonce cancellations.
/// forge-config: default.invariant.fail-on-revert = true
contract StablecoinBatchInvariantTest is Test {
    string internal constant NAME = "Robot Dollar";
    uint256 internal constant CONFIGURED_ALLOWANCE = 10_000_000e6;
    bytes32 internal constant BLOCKLISTER_ROLE = keccak256("BLOCKLISTER_ROLE");

    Stablecoin internal token;
    BatchSettlementHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        address admin = makeAddr("admin");
        address minter = makeAddr("minter");
        token = new Stablecoin(NAME, "RUSD", admin);
        handler = new BatchSettlementHandler(token, NAME, minter);
        vm.startPrank(admin);
        token.configureMinter(minter, CONFIGURED_ALLOWANCE);
        token.grantRole(BLOCKLISTER_ROLE, address(handler));
        vm.stopPrank();

        bytes4[] memory selectors = new bytes4[](4);
        selectors[0] = BatchSettlementHandler.mint.selector;
        selectors[1] = BatchSettlementHandler.toggleBlocklist.selector;
        selectors[2] = BatchSettlementHandler.cancelBatchNonce.selector;
        selectors[3] = BatchSettlementHandler.settleBatch.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_TotalSupplyEqualsSumOfBalances() public view {
        address[] memory actors = handler.actors();
        uint256 sum;
        for (uint256 i = 0; i < actors.length; ++i) {
            sum += token.balanceOf(actors[i]);
        }
        assertEq(token.totalSupply(), sum, "totalSupply != sum of balances");
        assertEq(token.totalSupply(), handler.ghostMinted(), "totalSupply != minted");
    }

    function invariant_SettledPlusSkippedEqualsSubmitted() public view {
        assertEq(
            handler.ghostSettled() + handler.ghostSkipped(), handler.ghostSubmitted(), "settled + skipped != submitted"
        );
        assertEq(handler.ghostTransfersLogged(), handler.ghostSettled(), "one Transfer per settled payment");
    }

    function invariant_NoNonceSettlesTwice() public view {
        assertEq(handler.ghostDoubleSettlements(), 0, "a (payer, nonce) settled twice");
        assertEq(handler.ghostDistinctNoncesSettled(), handler.ghostSettled(), "settled payments != distinct nonces");
    }

    function invariant_OutcomesMatchTheModel() public view {
        assertEq(handler.ghostUnexpectedOutcomes(), 0, "an outcome or skip reason differed from the model");
    }

    function invariant_NonceBitmapMatchesSettledAndCancelled() public view {
        address[] memory actors = handler.actors();
        for (uint256 i = 0; i < actors.length; ++i) {
            // Payments only use word 0, so the whole word shows every spent nonce and nothing else.
            assertEq(token.batchNonceBitmap(actors[i], 0), handler.ghostSpentBitmap(actors[i]), "nonce word");
        }
    }
}
