// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";
import {BatchPacking} from "../utils/BatchPacking.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice The gas of a realistic batch in steady state: 1,000 (and 2,000) payments among 100 payers
/// and 100 payees who all hold tokens already, with nonces in bitmap words each payer has used before.
/// @dev The settlement call's execution gas is recorded in snapshots/StablecoinBatchGasTest.json
/// (and printed with -vv); the transaction's base and calldata gas are computed from the encoded
/// call, since a test runs inside one transaction and never pays them itself.
///
/// The product target is 8,000 gas per payment for the whole transaction in the service (issue 17).
/// Among all 100 payers a payment costs about 9,110 gas at 1,000 a batch and 8,170 at 2,000, about
/// as many as one transaction's 2**24 gas cap (EIP-7825) holds. The service plans a round in
/// whole payers, so a batch of 2,000 holds about 20 of them: 7,680 a payment
/// (test_Gas_BatchOf2000From20PayersTo100Payees), since it touches 140 account and nonce words
/// instead of 300. Per payment, among 100 payers at 2,000:
/// - calldata and base: about 1,300 (a packed payment is three words, two of them signature);
/// - `ecrecover`: about 3,100, and about 150 more to hash the message and the digest;
/// - the ERC-20 `Transfer` log: about 1,760;
/// - first touches of 200 account words (balance and blocklist flag) and 100 nonce words, read
///   once and written once: about 900 (about 420 for 20 payers' batch);
/// - unpacking, checks and the memory ledger, in one assembly loop: about 950.
/// The ceilings below guard against regressions, about 2% above what was measured.
contract StablecoinBatchGasTest is StablecoinFixture {
    uint256 internal constant PAYER_COUNT = 100;
    uint256 internal constant PAYEE_COUNT = 100;
    uint256 internal constant PAYMENT_VALUE = 25_000; // 2.5 cents
    uint256 internal constant ACCOUNT_BALANCE = 1_000e6;

    /// @dev The product target for a whole transaction: receipt gasUsed divided by the payments.
    uint256 internal constant TARGET_GAS_PER_PAYMENT = 8_000;
    /// @dev Regression ceilings on the same measure, about 2% above what was measured.
    uint256 internal constant CEILING_GAS_PER_PAYMENT_1000 = 9_300;
    uint256 internal constant CEILING_GAS_PER_PAYMENT_2000 = 8_330;
    uint256 internal constant CEILING_GAS_PER_PAYMENT_2000_GROUPED = 7_840;
    uint256 internal constant GROUPED_PAYERS = 20;
    uint256 internal constant TRANSACTION_BASE_GAS = 21_000;
    /// @dev Calldata gas: 4 per zero byte and 16 per other byte; since EIP-7623 (Prague) a
    /// transaction pays at least 10 per token (a zero byte is one token, another byte four).
    uint256 internal constant ZERO_BYTE_GAS = 4;
    uint256 internal constant NONZERO_BYTE_GAS = 16;
    uint256 internal constant FLOOR_GAS_PER_TOKEN = 10;

    /// @dev Printed by forge with -vv (the event forge's test runner decodes).
    event log_named_uint(string key, uint256 val);

    /// @dev Payers at 0 .. PAYER_COUNT - 1, payees after them.
    address[] internal accounts;
    uint256[] internal payerKeys;

    function setUp() public override {
        super.setUp();
        for (uint256 i = 0; i < PAYER_COUNT; ++i) {
            (address payer, uint256 key) = makeAddrAndKey(string.concat("payer", Strings.toString(i)));
            accounts.push(payer);
            payerKeys.push(key);
            _mint(payer, ACCOUNT_BALANCE);
            // Steady state: the payer's nonce word 0 already holds a used nonce (bit 0).
            vm.prank(payer);
            token.cancelBatchNonces(0, 1);
        }
        for (uint256 i = 0; i < PAYEE_COUNT; ++i) {
            address payee = makeAddr(string.concat("payee", Strings.toString(i)));
            accounts.push(payee);
            _mint(payee, ACCOUNT_BALANCE);
        }
    }

    function test_Gas_BatchOf1000Among100Payers100Payees() public {
        _measure(1_000, CEILING_GAS_PER_PAYMENT_1000);
    }

    function test_Gas_BatchOf2000Among100Payers100Payees() public {
        _measure(2_000, CEILING_GAS_PER_PAYMENT_2000);
    }

    /// @dev As the service plans a round, in whole payers: 2,000 payments of 20 payers (100 each)
    /// to the 100 payees, listing only those 120 accounts.
    function test_Gas_BatchOf2000From20PayersTo100Payees() public {
        address[] memory listed = new address[](GROUPED_PAYERS + PAYEE_COUNT);
        for (uint256 i = 0; i < GROUPED_PAYERS; ++i) {
            listed[i] = accounts[i];
        }
        for (uint256 i = 0; i < PAYEE_COUNT; ++i) {
            listed[GROUPED_PAYERS + i] = accounts[PAYER_COUNT + i];
        }
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](2_000);
        for (uint256 i = 0; i < 2_000; ++i) {
            uint256 payer = i / PAYEE_COUNT;
            uint256 payee = GROUPED_PAYERS + (i + payer) % PAYEE_COUNT;
            payments[i] = _batchPayment(payerKeys[payer], listed, payer, payee, PAYMENT_VALUE + i, 1 + i % PAYEE_COUNT);
        }
        _measureCall(listed, payments, "_2000PaymentsFrom20Payers", CEILING_GAS_PER_PAYMENT_2000_GROUPED);
    }

    /// @dev Settles `paymentCount` payments among all 100 payers and 100 payees (see {_payments}),
    /// recorded under names ending in the count.
    function _measure(uint256 paymentCount, uint256 ceilingGasPerPayment) internal {
        string memory suffix = string.concat("_", Strings.toString(paymentCount), "Payments");
        _measureCall(accounts, _payments(paymentCount), suffix, ceilingGasPerPayment);
    }

    /// @dev Settles `payments` among `listed`, records its gas under names ending in `suffix` and
    /// checks the transaction gas per payment against `ceilingGasPerPayment`.
    function _measureCall(
        address[] memory listed,
        IBatchSettlement.BatchPayment[] memory payments,
        string memory suffix,
        uint256 ceilingGasPerPayment
    ) internal {
        uint256 paymentCount = payments.length;
        bytes memory data = abi.encodeCall(token.settleBatch, (listed, BatchPacking.pack(payments)));

        // Nothing above touched the token's storage, so every slot is as cold as in a fresh transaction.
        (bool success, bytes memory returned) = address(token).call(data);
        uint256 executionGas = vm.snapshotGasLastCall(string.concat("settleBatch", suffix));
        assertTrue(success, "settleBatch reverted");
        assertEq(abi.decode(returned, (uint256)), paymentCount, "every payment settled");

        uint256 transactionGas = _transactionGas(data, executionGas);
        uint256 executionGasPerPayment = executionGas / paymentCount;
        uint256 overheadGasPerPayment = (transactionGas - executionGas) / paymentCount;
        uint256 gasPerPayment = transactionGas / paymentCount;
        uint256 overTarget = gasPerPayment > TARGET_GAS_PER_PAYMENT ? gasPerPayment - TARGET_GAS_PER_PAYMENT : 0;
        vm.snapshotValue(string.concat("executionGasPerPayment", suffix), executionGasPerPayment);
        vm.snapshotValue(string.concat("calldataAndBaseGasPerPayment", suffix), overheadGasPerPayment);
        vm.snapshotValue(string.concat("transactionGasPerPayment", suffix), gasPerPayment);
        vm.snapshotValue(string.concat("gasPerPaymentOverTarget", suffix), overTarget);
        emit log_named_uint("payments", paymentCount);
        emit log_named_uint("execution gas per payment", executionGasPerPayment);
        emit log_named_uint("calldata + 21,000 base gas per payment", overheadGasPerPayment);
        emit log_named_uint("transaction gas per payment", gasPerPayment);
        emit log_named_uint("over the 8,000 target by", overTarget);

        assertLe(
            executionGasPerPayment,
            ceilingGasPerPayment - overheadGasPerPayment,
            "execution gas per payment above the ceiling less calldata and base gas"
        );
    }

    /// @dev Payment i goes from payer i % 100 to payee (i + i / 100) % 100, so every payer pays
    /// different payees and every payee is paid paymentCount / 100 times; payer nonces count up from
    /// 1 in word 0 (and on into word 1 past 255).
    function _payments(uint256 paymentCount) internal view returns (IBatchSettlement.BatchPayment[] memory payments) {
        payments = new IBatchSettlement.BatchPayment[](paymentCount);
        for (uint256 i = 0; i < paymentCount; ++i) {
            uint256 payer = i % PAYER_COUNT;
            uint256 payee = PAYER_COUNT + (i + i / PAYER_COUNT) % PAYEE_COUNT;
            payments[i] =
                _batchPayment(payerKeys[payer], accounts, payer, payee, PAYMENT_VALUE + i, 1 + i / PAYER_COUNT);
        }
    }

    /// @dev The receipt's gasUsed for a transaction sending `data` that spends `executionGas`: base
    /// gas plus the larger of standard calldata gas plus execution and the EIP-7623 floor.
    function _transactionGas(bytes memory data, uint256 executionGas) internal pure returns (uint256) {
        uint256 zeroBytes;
        for (uint256 i = 0; i < data.length; ++i) {
            if (data[i] == 0) ++zeroBytes;
        }
        uint256 nonzeroBytes = data.length - zeroBytes;
        uint256 standard = zeroBytes * ZERO_BYTE_GAS + nonzeroBytes * NONZERO_BYTE_GAS;
        uint256 floor = (zeroBytes + 4 * nonzeroBytes) * FLOOR_GAS_PER_TOKEN;
        uint256 metered = standard + executionGas;
        return TRANSACTION_BASE_GAS + (metered > floor ? metered : floor);
    }
}
