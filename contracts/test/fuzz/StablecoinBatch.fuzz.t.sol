// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";
import {BatchPacking} from "../utils/BatchPacking.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Batch settlement over fuzzed keys, balances, values, nonces and expiries, checked against
/// a model of which payments must settle.
contract StablecoinBatchFuzzTest is StablecoinFixture {
    /// @dev The widest nonce and expiry a packed payment carries (88 and 40 bits).
    uint256 internal constant MAX_PACKED_NONCE = 1 << 88;
    uint256 internal constant MAX_PACKED_VALID_BEFORE = (1 << 40) - 1;

    uint256 internal constant PAYMENT_COUNT = 8;
    uint256 internal constant MAX_FUNDING = 1_000e6;
    /// @dev accounts = [payerA, payerB, carol].
    uint256 internal constant PAYEE_INDEX = 2;

    /// @dev What the model expects of one batch: per payment whether it settles, and the balances after.
    struct Model {
        bool[PAYMENT_COUNT] settles;
        uint256[3] balances;
        uint256 settledCount;
    }

    /// @dev Two payers with fuzzed keys, distinct from each other and from carol, funded with fuzzed
    /// amounts, and carol as the third account.
    function _accounts(uint256 keySeedA, uint256 keySeedB, uint256 fundingA, uint256 fundingB)
        internal
        returns (address[] memory accounts, uint256[2] memory keys)
    {
        keys[0] = boundPrivateKey(keySeedA);
        keys[1] = boundPrivateKey(keySeedB);
        vm.assume(keys[0] != keys[1]);
        accounts = new address[](3);
        accounts[0] = vm.addr(keys[0]);
        accounts[1] = vm.addr(keys[1]);
        accounts[PAYEE_INDEX] = carol;
        vm.assume(accounts[0] != carol && accounts[1] != carol);
        vm.assume(token.balanceOf(accounts[0]) == 0 && token.balanceOf(accounts[1]) == 0);
        _mint(accounts[0], bound(fundingA, 1, MAX_FUNDING));
        _mint(accounts[1], bound(fundingB, 1, MAX_FUNDING));
    }

    /// @dev Payment k is from payer (directions bit k) to carol or to the other payer (bit k + 8).
    /// Values may exceed the balance, and half the nonces come from a space of four, so duplicate
    /// nonces and insufficient balances both occur.
    function _payments(
        address[] memory accounts,
        uint256[2] memory keys,
        uint256[PAYMENT_COUNT] memory values,
        uint256[PAYMENT_COUNT] memory nonceSeeds,
        uint256 directions
    ) internal view returns (IBatchSettlement.BatchPayment[] memory payments) {
        payments = new IBatchSettlement.BatchPayment[](PAYMENT_COUNT);
        for (uint256 k = 0; k < PAYMENT_COUNT; ++k) {
            uint256 from = (directions >> k) & 1;
            uint256 to = (directions >> (k + 8)) & 1 == 1 ? PAYEE_INDEX : 1 - from;
            uint256 nonce = nonceSeeds[k] % 2 == 0 ? nonceSeeds[k] % 4 : nonceSeeds[k] % MAX_PACKED_NONCE;
            uint256 value = bound(values[k], 0, MAX_FUNDING / 2);
            payments[k] = _batchPayment(keys[from], accounts, from, to, value, nonce);
        }
    }

    /// @dev In order: a payment settles when its nonce is unused so far and its payer holds enough.
    function _model(address[] memory accounts, IBatchSettlement.BatchPayment[] memory payments)
        internal
        view
        returns (Model memory model)
    {
        for (uint256 a = 0; a < 3; ++a) {
            model.balances[a] = token.balanceOf(accounts[a]);
        }
        for (uint256 k = 0; k < PAYMENT_COUNT; ++k) {
            IBatchSettlement.BatchPayment memory p = payments[k];
            if (_settledAmong(model, payments, k, k) || model.balances[p.fromIndex] < p.value) continue;
            model.settles[k] = true;
            model.balances[p.fromIndex] -= p.value;
            model.balances[p.toIndex] += p.value;
            ++model.settledCount;
        }
    }

    /// @dev Whether one of the first `count` payments settled with the payer and nonce of payment `k`.
    function _settledAmong(
        Model memory model,
        IBatchSettlement.BatchPayment[] memory payments,
        uint256 k,
        uint256 count
    ) internal pure returns (bool) {
        for (uint256 j = 0; j < count; ++j) {
            bool samePayerAndNonce =
                payments[j].fromIndex == payments[k].fromIndex && payments[j].nonce == payments[k].nonce;
            if (model.settles[j] && samePayerAndNonce) return true;
        }
        return false;
    }

    function testFuzz_SettleBatch_MovesExactlyTheSettledValue(
        uint256 keySeedA,
        uint256 keySeedB,
        uint256 fundingA,
        uint256 fundingB,
        uint256[PAYMENT_COUNT] memory values,
        uint256[PAYMENT_COUNT] memory nonceSeeds,
        uint256 directions
    ) public {
        (address[] memory accounts, uint256[2] memory keys) = _accounts(keySeedA, keySeedB, fundingA, fundingB);
        IBatchSettlement.BatchPayment[] memory payments = _payments(accounts, keys, values, nonceSeeds, directions);
        Model memory model = _model(accounts, payments);
        uint256 supplyBefore = token.totalSupply();
        uint256 heldBefore = token.balanceOf(accounts[0]) + token.balanceOf(accounts[1]) + token.balanceOf(carol);

        assertEq(token.settleBatch(accounts, BatchPacking.pack(payments)), model.settledCount, "settled count");

        for (uint256 a = 0; a < 3; ++a) {
            assertEq(token.balanceOf(accounts[a]), model.balances[a], "balance");
        }
        assertEq(token.totalSupply(), supplyBefore, "supply conserved");
        assertEq(
            token.balanceOf(accounts[0]) + token.balanceOf(accounts[1]) + token.balanceOf(carol),
            heldBefore,
            "value moved only among the batch's accounts"
        );
        for (uint256 k = 0; k < PAYMENT_COUNT; ++k) {
            // A nonce is used exactly when a payment with it settled; skipped ones leave it unused.
            bool used = token.batchNonceUsed(accounts[payments[k].fromIndex], payments[k].nonce);
            assertEq(used, _settledAmong(model, payments, k, PAYMENT_COUNT), "nonce state");
        }
    }

    function testFuzz_SettleBatch_NonceNeverUsableTwice(
        uint256 keySeed,
        uint256 nonce,
        uint256 firstValue,
        uint256 secondValue,
        bool cancelToo
    ) public {
        uint256 key = boundPrivateKey(keySeed);
        nonce = bound(nonce, 0, MAX_PACKED_NONCE - 1);
        address[] memory accounts = new address[](3);
        accounts[0] = vm.addr(key);
        accounts[1] = bob;
        accounts[2] = carol;
        vm.assume(accounts[0] != bob && accounts[0] != carol);
        _mint(accounts[0], MAX_FUNDING);

        IBatchSettlement.BatchPayment[] memory first = new IBatchSettlement.BatchPayment[](1);
        first[0] = _batchPayment(key, accounts, 0, 1, bound(firstValue, 0, MAX_FUNDING / 2), nonce);
        assertEq(token.settleBatch(accounts, BatchPacking.pack(first)), 1, "first use");
        assertTrue(token.batchNonceUsed(accounts[0], nonce), "nonce used");
        if (cancelToo) {
            vm.prank(accounts[0]);
            token.cancelBatchNonces(nonce >> 8, 2 ** (nonce & 0xff));
        }

        // Another payment with the same nonce, to another payee and of another value, even signed anew.
        IBatchSettlement.BatchPayment[] memory second = new IBatchSettlement.BatchPayment[](2);
        second[0] = _batchPayment(key, accounts, 0, 2, bound(secondValue, 0, MAX_FUNDING / 2), nonce);
        second[1] = first[0];
        uint256 balanceBefore = token.balanceOf(accounts[0]);
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchPaymentSkipped(0, accounts[0], nonce, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchPaymentSkipped(1, accounts[0], nonce, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        assertEq(token.settleBatch(accounts, BatchPacking.pack(second)), 0, "second use");
        assertEq(token.balanceOf(accounts[0]), balanceBefore, "nothing moved");
    }

    function testFuzz_SettleBatch_SkipsSignatureOfAnotherKey(
        uint256 keySeed,
        uint256 otherKeySeed,
        uint256 value,
        uint256 nonce
    ) public {
        uint256 key = boundPrivateKey(keySeed);
        uint256 otherKey = boundPrivateKey(otherKeySeed);
        vm.assume(key != otherKey);
        nonce = bound(nonce, 0, MAX_PACKED_NONCE - 1);
        address[] memory accounts = new address[](2);
        accounts[0] = vm.addr(key);
        accounts[1] = bob;
        vm.assume(accounts[0] != bob);
        _mint(accounts[0], MAX_FUNDING);

        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](1);
        payments[0] = _batchPayment(otherKey, accounts, 0, 1, bound(value, 0, MAX_FUNDING), nonce);
        vm.expectEmit(address(token));
        emit IBatchSettlement.BatchPaymentSkipped(0, accounts[0], nonce, IBatchSettlement.SkipReason.InvalidSignature);
        assertEq(token.settleBatch(accounts, BatchPacking.pack(payments)), 0);
        assertFalse(token.batchNonceUsed(accounts[0], nonce), "nonce unused");
    }

    function testFuzz_SettleBatch_ValidStrictlyBeforeValidBefore(uint256 validBefore, uint256 when) public {
        validBefore = bound(validBefore, 0, MAX_PACKED_VALID_BEFORE);
        address[] memory accounts = new address[](2);
        accounts[0] = alice;
        accounts[1] = bob;
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](1);
        payments[0] = _batchPayment(aliceKey, accounts, 0, 1, 1e6, 0);
        payments[0].validBefore = validBefore;
        _signBatchPayment(aliceKey, alice, bob, payments[0]);
        vm.warp(when);

        bool expired = when >= validBefore;
        if (expired) {
            vm.expectEmit(address(token));
            emit IBatchSettlement.BatchPaymentSkipped(0, alice, 0, IBatchSettlement.SkipReason.Expired);
        }
        assertEq(token.settleBatch(accounts, BatchPacking.pack(payments)), expired ? 0 : 1);
    }

    function testFuzz_CancelBatchNonces(address owner, uint256 word, uint256 mask, uint8 bit) public {
        word = bound(word, 0, type(uint256).max >> 8);
        vm.prank(owner);
        token.cancelBatchNonces(word, mask);

        assertEq(token.batchNonceBitmap(owner, word), mask, "bitmap");
        assertEq(token.batchNonceUsed(owner, (word << 8) | bit), (mask >> bit) & 1 == 1, "nonce");
    }
}
