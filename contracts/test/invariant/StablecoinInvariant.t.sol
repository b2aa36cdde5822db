// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Stablecoin} from "../../src/Stablecoin.sol";
import {Test} from "../utils/Test.sol";
import {StablecoinHandler} from "./StablecoinHandler.sol";

/// @notice Supply accounting, mint-allowance accounting and single use of authorization nonces under
/// random sequences of mints, burns, transfers, approvals, transferFroms and EIP-3009 calls.
/// forge-config: default.invariant.fail-on-revert = true
contract StablecoinInvariantTest is Test {
    string internal constant NAME = "Robot Dollar";
    uint256 internal constant CONFIGURED_ALLOWANCE = 10_000_000e6;

    Stablecoin internal token;
    StablecoinHandler internal handler;
    address internal minter;

    function setUp() public {
        vm.warp(1_750_000_000);
        address admin = makeAddr("admin");
        minter = makeAddr("minter");
        token = new Stablecoin(NAME, "RUSD", admin);
        vm.prank(admin);
        token.configureMinter(minter, CONFIGURED_ALLOWANCE);

        handler = new StablecoinHandler(token, NAME, minter);

        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = StablecoinHandler.mint.selector;
        selectors[1] = StablecoinHandler.burn.selector;
        selectors[2] = StablecoinHandler.transfer.selector;
        selectors[3] = StablecoinHandler.approve.selector;
        selectors[4] = StablecoinHandler.transferFrom.selector;
        selectors[5] = StablecoinHandler.transferWithAuthorization.selector;
        selectors[6] = StablecoinHandler.cancelAuthorization.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_TotalSupplyEqualsSumOfBalances() public view {
        address[] memory holders = handler.holders();
        uint256 sum;
        for (uint256 i = 0; i < holders.length; ++i) {
            sum += token.balanceOf(holders[i]);
        }
        assertEq(token.totalSupply(), sum, "totalSupply != sum of balances");
    }

    function invariant_TotalSupplyEqualsMintedMinusBurned() public view {
        assertEq(token.totalSupply(), handler.ghostMinted() - handler.ghostBurned(), "totalSupply != minted - burned");
    }

    function invariant_MinterAllowanceAccounting() public view {
        assertEq(
            token.minterAllowance(minter) + handler.ghostMinted(),
            CONFIGURED_ALLOWANCE,
            "allowance + minted != configured allowance"
        );
    }

    function invariant_NoAuthorizationNonceUsedTwice() public view {
        assertEq(
            handler.ghostAuthorizationsUsed() + handler.ghostAuthorizationsCanceled(),
            handler.ghostDistinctNoncesSpent(),
            "a nonce was spent twice"
        );
        assertEq(handler.ghostUnexpectedOutcomes(), 0, "unexpected success or failure");
    }
}
