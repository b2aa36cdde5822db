// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {Console} from "../utils/Console.sol";
import {SnapshotKeys} from "../utils/SnapshotKeys.sol";
import {PaymentChannelsFixture} from "../utils/PaymentChannelsFixture.sol";

/// @notice What a batch claim costs per channel, the figure the product's gas-per-payment target
/// rests on. Run with `-vv` to see the numbers.
/// @dev setUp opens the channels in its own transaction, so the test's claim reads every channel
/// slot cold, as a real claim transaction does. Payees already hold tokens, as active robots do.
/// The measured gas is the execution of the `claim` call plus the caller's call overhead (the
/// 2,600 of a first call to the contract, once per batch); the transaction estimate adds the
/// 21,000 base and the calldata cost (4 gas per zero byte, 16 per non-zero byte).
contract PaymentChannelsGasTest is PaymentChannelsFixture {
    uint256 internal constant CHANNEL_COUNT = 100;
    uint256 internal constant PAYEE_COUNT = 10;
    uint256 internal constant CHANNEL_DEPOSIT = 10e6;
    /// @dev The product's target, in gas per payment, for the report.
    uint256 internal constant TARGET_GAS_PER_PAYMENT = 200;

    bytes32[] internal _channelIds;
    uint256[] internal _payerKeys;

    function setUp() public override {
        super.setUp();
        address[] memory payees = new address[](PAYEE_COUNT);
        for (uint256 p = 0; p < PAYEE_COUNT; ++p) {
            payees[p] = makeAddr(string.concat("gas payee ", Strings.toString(p)));
            _mint(payees[p], 1);
        }
        // Channel i belongs to payee i / 10: claims in channel order come in runs of ten per payee.
        for (uint256 i = 0; i < CHANNEL_COUNT; ++i) {
            (address payer, uint256 payerKey) = makeAddrAndKey(string.concat("gas payer ", Strings.toString(i)));
            _mint(payer, CHANNEL_DEPOSIT);
            _payerKeys.push(payerKey);
            _channelIds.push(_open(payerKey, payees[i / (CHANNEL_COUNT / PAYEE_COUNT)], SALT, CHANNEL_DEPOSIT));
        }
    }

    /// @dev One voucher per channel, in channel order or interleaving the payees.
    function _batch(bool sortedByPayee) internal view returns (IPaymentChannels.VoucherClaim[] memory claims) {
        claims = new IPaymentChannels.VoucherClaim[](CHANNEL_COUNT);
        uint256 perPayee = CHANNEL_COUNT / PAYEE_COUNT;
        for (uint256 k = 0; k < CHANNEL_COUNT; ++k) {
            uint256 i = sortedByPayee ? k : (k % PAYEE_COUNT) * perPayee + k / PAYEE_COUNT;
            claims[k] = _voucher(_payerKeys[i], _channelIds[i], 1e6 + i);
        }
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    /// @return executionGas The gas the claim call used.
    function _measure(IPaymentChannels.VoucherClaim[] memory claims, string memory label)
        internal
        returns (uint256 executionGas)
    {
        // Encoded before measuring, so the measurement holds the call alone, not the test's own
        // copying of 100 vouchers into calldata.
        bytes memory data = abi.encodeCall(IPaymentChannels.claim, (claims));
        address target = address(channels);
        vm.prank(relayer);
        uint256 before = gasleft();
        (bool success, bytes memory returned) = target.call(data);
        executionGas = before - gasleft();
        assertTrue(success, "claim reverted");
        uint256 paid = abi.decode(returned, (uint256));
        assertEq(paid, CHANNEL_COUNT * 1e6 + (CHANNEL_COUNT * (CHANNEL_COUNT - 1)) / 2, "all claims paid");

        uint256 transactionGas = 21_000 + _calldataGas(data) + executionGas;
        Console.log(string.concat(label, ": claim execution gas, whole batch"), executionGas);
        Console.log(string.concat(label, ": claim execution gas per claim"), executionGas / CHANNEL_COUNT);
        Console.log(
            string.concat(label, ": transaction gas per claim (base + calldata + execution)"),
            transactionGas / CHANNEL_COUNT
        );
        Console.log(
            string.concat(label, ": payments per voucher needed for 200 gas per payment"),
            (transactionGas / CHANNEL_COUNT + TARGET_GAS_PER_PAYMENT - 1) / TARGET_GAS_PER_PAYMENT
        );
        vm.snapshotValue(SnapshotKeys.named("transactionGasPerClaim_", label), transactionGas / CHANNEL_COUNT);
    }

    /// @notice 100 channels, 10 payees, claims sorted by payee: 100 claims and 10 transfers.
    /// @dev The floor of one claim is two cold slot reads (2 x 2,100), one slot write (2,900), the
    /// ecrecover precompile (3,000 + 100) and the VoucherClaimed log (about 2,000): about 12,200.
    /// Each payee run adds one stablecoin transfer (about 10,000 to a payee's existing balance:
    /// cold blocklist and balance slots, two writes, a log) and one `isBlocklisted` call before it
    /// (about 2,600, which leaves the blocklist slot warm for the transfer), so a payee the token
    /// would refuse is skipped rather than reverting the batch. The bound guards against
    /// regressions.
    function test_Gas_Claim100Channels() public {
        uint256 executionGas = _measure(_batch(true), "sorted by payee");
        assertLe(executionGas / CHANNEL_COUNT, 15_500, "per-claim execution gas regressed");
    }

    /// @notice The same claims interleaving the payees: every claim is its own run and transfer.
    function test_Gas_Claim100ChannelsUnsorted() public {
        uint256 executionGas = _measure(_batch(false), "interleaved payees");
        assertLe(executionGas / CHANNEL_COUNT, 22_000, "per-claim execution gas, unsorted");
    }
}
