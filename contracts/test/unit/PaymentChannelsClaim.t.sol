// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {PaymentChannels} from "../../src/PaymentChannels.sol";
import {IPaymentChannels} from "../../src/interfaces/IPaymentChannels.sol";
import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {PaymentChannelsFixture} from "../utils/PaymentChannelsFixture.sol";
import {RecordedLogs, VmLogs} from "../utils/VmLogs.sol";

/// @notice Batch claims of cumulative vouchers: payment of the increase only, every skip reason,
/// and one transfer per run of consecutive claims for the same payee.
contract PaymentChannelsClaimTest is PaymentChannelsFixture {
    using RecordedLogs for VmLogs.Log[];

    /// @dev The secp256k1 group order, to build the high-s twin of a signature.
    uint256 internal constant CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    bytes32 internal channelId;

    function setUp() public override {
        super.setUp();
        channelId = _openDefault();
    }

    function _claims(IPaymentChannels.VoucherClaim memory first, IPaymentChannels.VoucherClaim memory second)
        internal
        pure
        returns (IPaymentChannels.VoucherClaim[] memory claims)
    {
        claims = new IPaymentChannels.VoucherClaim[](2);
        claims[0] = first;
        claims[1] = second;
    }

    function _expectSkipped(uint256 index, bytes32 id, IPaymentChannels.ClaimSkipReason reason) internal {
        vm.expectEmit(address(channels));
        emit IPaymentChannels.ClaimSkipped(index, id, reason);
    }

    /// @dev Claims one voucher that must be skipped for `reason`, paying nothing and moving no token.
    function _assertSkipped(IPaymentChannels.VoucherClaim memory voucher, IPaymentChannels.ClaimSkipReason reason)
        internal
    {
        uint256 escrowed = token.balanceOf(address(channels));
        (,,, uint256 claimedBefore,) = channels.channel(voucher.channelId);

        _expectSkipped(0, voucher.channelId, reason);
        RecordedLogs.VM_LOGS.recordLogs();
        assertEq(_claimOne(voucher), 0, "paid nothing");
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.length, 1, "only the skip event");
        assertEq(token.balanceOf(address(channels)), escrowed, "escrow untouched");
        (,,, uint256 claimedAfter,) = channels.channel(voucher.channelId);
        assertEq(claimedAfter, claimedBefore, "claimed untouched");
    }

    // ---------------------------------------------------------------- paying

    function test_Claim() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 30e6);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(channelId, bob, 30e6, 30e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 30e6);
        assertEq(_claimOne(voucher), 30e6, "paid total");

        _assertChannel(channelId, alice, bob, DEPOSIT, 30e6, 0);
        assertEq(token.balanceOf(bob), 30e6, "payee");
        assertEq(token.balanceOf(address(channels)), DEPOSIT - 30e6, "escrowed");
        assertEq(token.balanceOf(relayer), 0, "relayer untouched");
    }

    function test_Claim_PaysOnlyTheIncrease() public {
        _claimOne(_voucher(aliceKey, channelId, 10e6));

        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(channelId, bob, 25e6, 15e6);
        assertEq(_claimOne(_voucher(aliceKey, channelId, 25e6)), 15e6);

        _assertChannel(channelId, alice, bob, DEPOSIT, 25e6, 0);
        assertEq(token.balanceOf(bob), 25e6, "payee");
    }

    function test_Claim_TheWholeDeposit() public {
        assertEq(_claimOne(_voucher(aliceKey, channelId, DEPOSIT)), DEPOSIT);
        _assertChannel(channelId, alice, bob, DEPOSIT, DEPOSIT, 0);
        assertEq(token.balanceOf(address(channels)), 0, "nothing left");
    }

    function test_Claim_SubmittedByThePayee() public {
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](1);
        claims[0] = _voucher(aliceKey, channelId, 1);
        vm.prank(bob);
        assertEq(channels.claim(claims), 1);
        assertEq(token.balanceOf(bob), 1);
    }

    function test_Claim_SubmittedByThePayerStillPaysThePayee() public {
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](1);
        claims[0] = _voucher(aliceKey, channelId, 7);
        vm.prank(alice);
        channels.claim(claims);
        assertEq(token.balanceOf(bob), 7, "payee");
        assertEq(token.balanceOf(alice), PAYER_BALANCE - DEPOSIT, "payer");
    }

    function test_Claim_DuringTheChallengePeriod() public {
        vm.prank(alice);
        channels.requestWithdrawal(channelId);
        vm.warp(block.timestamp + CHALLENGE_PERIOD - 1);
        assertEq(_claimOne(_voucher(aliceKey, channelId, 5e6)), 5e6);
    }

    function test_Claim_AfterTheChallengePeriodUntilTheWithdrawal() public {
        vm.prank(alice);
        channels.requestWithdrawal(channelId);
        vm.warp(block.timestamp + CHALLENGE_PERIOD + 1 days);
        assertEq(_claimOne(_voucher(aliceKey, channelId, 5e6)), 5e6);

        vm.prank(alice);
        channels.withdraw(channelId);
        assertEq(token.balanceOf(alice), PAYER_BALANCE - 5e6, "refund excludes the claim");
    }

    function test_Claim_VoucherAboveTheDepositAfterATopUp() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, DEPOSIT + 20e6);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.ExceedsDeposit);

        _topUp(aliceKey, channelId, TOP_UP_SALT, 20e6);
        assertEq(_claimOne(voucher), DEPOSIT + 20e6, "same voucher now pays");
    }

    function test_Claim_SameChannelTwiceInOneBatch() public {
        IPaymentChannels.VoucherClaim[] memory claims =
            _claims(_voucher(aliceKey, channelId, 10e6), _voucher(aliceKey, channelId, 20e6));

        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(channelId, bob, 10e6, 10e6);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(channelId, bob, 20e6, 10e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 20e6);
        vm.prank(relayer);
        assertEq(channels.claim(claims), 20e6);
        _assertChannel(channelId, alice, bob, DEPOSIT, 20e6, 0);
    }

    function test_Claim_OlderVoucherLaterInTheBatchIsSkipped() public {
        IPaymentChannels.VoucherClaim[] memory claims =
            _claims(_voucher(aliceKey, channelId, 20e6), _voucher(aliceKey, channelId, 10e6));

        _expectSkipped(1, channelId, IPaymentChannels.ClaimSkipReason.NotAboveClaimed);
        vm.prank(relayer);
        assertEq(channels.claim(claims), 20e6);
        assertEq(token.balanceOf(bob), 20e6);
    }

    function test_Claim_MixedBatchSkipsOnlyTheInvalid() public {
        bytes32 toDave = _open(carolKey, dave, SALT, DEPOSIT);
        bytes32 unknown = keccak256("no such channel");
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](4);
        claims[0] = _voucher(aliceKey, channelId, 10e6);
        claims[1] = _voucher(aliceKey, unknown, 10e6);
        claims[2] = _voucher(aliceKey, toDave, 5e6); // signed by the wrong payer
        claims[3] = _voucher(carolKey, toDave, 6e6);

        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(channelId, bob, 10e6, 10e6);
        _expectSkipped(1, unknown, IPaymentChannels.ClaimSkipReason.UnknownChannel);
        _expectSkipped(2, toDave, IPaymentChannels.ClaimSkipReason.InvalidSignature);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(toDave, dave, 6e6, 6e6);
        vm.prank(relayer);
        assertEq(channels.claim(claims), 16e6);

        assertEq(token.balanceOf(bob), 10e6, "bob");
        assertEq(token.balanceOf(dave), 6e6, "dave");
    }

    function test_Claim_AllSkippedMovesNoToken() public {
        IPaymentChannels.VoucherClaim[] memory claims =
            _claims(_voucher(carolKey, channelId, 1), _voucher(aliceKey, channelId, 0));
        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        assertEq(channels.claim(claims), 0);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();
        assertEq(logs.count(address(token), IERC20.Transfer.selector), 0, "no transfer");
        assertEq(logs.count(address(channels), IPaymentChannels.ClaimSkipped.selector), 2, "two skips");
    }

    // ---------------------------------------------------------------- one transfer per payee run

    function test_Claim_OneTransferForConsecutiveClaimsOfOnePayee() public {
        bytes32 second = _open(carolKey, bob, SALT, DEPOSIT);
        bytes32 third = _open(aliceKey, bob, keccak256("salt-3"), DEPOSIT);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](3);
        claims[0] = _voucher(aliceKey, channelId, 1e6);
        claims[1] = _voucher(carolKey, second, 2e6);
        claims[2] = _voucher(aliceKey, third, 3e6);

        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 6e6);
        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        assertEq(channels.claim(claims), 6e6);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.count(address(token), IERC20.Transfer.selector), 1, "one transfer");
        assertEq(logs.count(address(channels), IPaymentChannels.VoucherClaimed.selector), 3, "three claims");
        assertEq(token.balanceOf(bob), 6e6);
    }

    function test_Claim_SkippedClaimDoesNotSplitARun() public {
        bytes32 second = _open(carolKey, bob, SALT, DEPOSIT);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](3);
        claims[0] = _voucher(aliceKey, channelId, 1e6);
        claims[1] = _voucher(carolKey, keccak256("no such channel"), 1e6);
        claims[2] = _voucher(carolKey, second, 2e6);

        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        channels.claim(claims);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();
        assertEq(logs.count(address(token), IERC20.Transfer.selector), 1, "one transfer");
        assertEq(token.balanceOf(bob), 3e6);
    }

    function test_Claim_OneTransferPerRunWhenPayeesInterleave() public {
        bytes32 toDave = _open(carolKey, dave, SALT, DEPOSIT);
        bytes32 secondToBob = _open(carolKey, bob, SALT, DEPOSIT);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](3);
        claims[0] = _voucher(aliceKey, channelId, 1e6);
        claims[1] = _voucher(carolKey, toDave, 2e6);
        claims[2] = _voucher(carolKey, secondToBob, 3e6);

        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 1e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), dave, 2e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), bob, 3e6);
        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        assertEq(channels.claim(claims), 6e6);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.count(address(token), IERC20.Transfer.selector), 3, "three runs");
        assertEq(token.balanceOf(bob), 4e6, "bob");
        assertEq(token.balanceOf(dave), 2e6, "dave");
    }

    function test_Claim_AllTransfersComeAfterAllClaims() public {
        bytes32 toDave = _open(carolKey, dave, SALT, DEPOSIT);
        IPaymentChannels.VoucherClaim[] memory claims =
            _claims(_voucher(aliceKey, channelId, 1e6), _voucher(carolKey, toDave, 2e6));

        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        channels.claim(claims);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.length, 4, "two claims, two transfers");
        assertEq(logs[0].topics[0], IPaymentChannels.VoucherClaimed.selector, "claim first");
        assertEq(logs[1].topics[0], IPaymentChannels.VoucherClaimed.selector, "claim second");
        assertEq(logs[2].topics[0], IERC20.Transfer.selector, "then transfers");
        assertEq(logs[3].topics[0], IERC20.Transfer.selector, "then transfers");
    }

    function test_Claim_LargestBatch() public {
        uint256 count = channels.MAX_CLAIMS_PER_CALL();
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](count);
        for (uint256 i = 0; i < count; ++i) {
            claims[i] = _voucher(aliceKey, channelId, i + 1);
        }
        vm.prank(relayer);
        assertEq(channels.claim(claims), count);
        _assertChannel(channelId, alice, bob, DEPOSIT, count, 0);
    }

    // ---------------------------------------------------------------- skip reasons

    function test_Claim_SkipsUnknownChannel() public {
        _assertSkipped(
            _voucher(aliceKey, _channelId(alice, bob, keccak256("never opened")), 1),
            IPaymentChannels.ClaimSkipReason.UnknownChannel
        );
    }

    function test_Claim_SkipsWithdrawnChannel() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        vm.startPrank(alice);
        channels.requestWithdrawal(channelId);
        vm.warp(block.timestamp + CHALLENGE_PERIOD);
        channels.withdraw(channelId);
        vm.stopPrank();
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.UnknownChannel);
    }

    function test_Claim_SkipsClosedChannel() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        vm.prank(bob);
        channels.closeCooperatively(channelId, voucher.cumulativeAmount, voucher.r, voucher.vs);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.UnknownChannel);
    }

    function test_Claim_SkipsVoucherSignedByAnotherKey() public {
        _assertSkipped(_voucher(carolKey, channelId, 1e6), IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsVoucherSignedByThePayee() public {
        (, uint256 bobKey) = makeAddrAndKey("bob");
        _assertSkipped(_voucher(bobKey, channelId, 1e6), IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsTamperedAmount() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        voucher.cumulativeAmount = 2e6;
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsVoucherOfAnotherChannel() public {
        bytes32 other = _open(aliceKey, dave, SALT, DEPOSIT);
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, other, 1e6);
        voucher.channelId = channelId;
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsVoucherForAnotherDeployment() public {
        PaymentChannels original = channels;
        channels = new PaymentChannels(address(token), CHALLENGE_PERIOD);
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        channels = original;
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsVoucherForAnotherChain() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        vm.chainId(block.chainid + 1);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsMalformedSignature() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        voucher.r = bytes32(0);
        voucher.vs = bytes32(0);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsHighSSignature() public {
        // The malleable twin (s' = n - s, parity flipped) recovers the same key but is rejected.
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        uint256 s = uint256(voucher.vs) & ((1 << 255) - 1);
        uint256 parity = uint256(voucher.vs) >> 255;
        voucher.vs = bytes32((CURVE_ORDER - s) | ((1 - parity) << 255));
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsForgedVoucherAsInvalidSignatureWhateverItsAmount() public {
        _assertSkipped(_voucher(carolKey, channelId, DEPOSIT + 1), IPaymentChannels.ClaimSkipReason.InvalidSignature);
    }

    function test_Claim_SkipsReplayedVoucher() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 1e6);
        _claimOne(voucher);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.NotAboveClaimed);
    }

    function test_Claim_SkipsOlderVoucher() public {
        IPaymentChannels.VoucherClaim memory older = _voucher(aliceKey, channelId, 1e6);
        _claimOne(_voucher(aliceKey, channelId, 2e6));
        _assertSkipped(older, IPaymentChannels.ClaimSkipReason.NotAboveClaimed);
    }

    function test_Claim_SkipsZeroVoucher() public {
        _assertSkipped(_voucher(aliceKey, channelId, 0), IPaymentChannels.ClaimSkipReason.NotAboveClaimed);
    }

    function test_Claim_SkipsVoucherAboveTheDeposit() public {
        _assertSkipped(_voucher(aliceKey, channelId, DEPOSIT + 1), IPaymentChannels.ClaimSkipReason.ExceedsDeposit);
    }

    function test_Claim_SkipsHugeVoucher() public {
        _assertSkipped(
            _voucher(aliceKey, channelId, type(uint256).max), IPaymentChannels.ClaimSkipReason.ExceedsDeposit
        );
    }

    // ---------------------------------------------------------------- a payee the token refuses

    function test_Claim_SkipsBlocklistedPayee() public {
        _blocklist(bob);
        _assertSkipped(_voucher(aliceKey, channelId, 1e6), IPaymentChannels.ClaimSkipReason.PayeeBlocklisted);
    }

    function test_Claim_ReportsAnInvalidVoucherOfABlocklistedPayeeAsInvalid() public {
        _blocklist(bob);
        _assertSkipped(_voucher(carolKey, channelId, 1e6), IPaymentChannels.ClaimSkipReason.InvalidSignature);
        _assertSkipped(_voucher(aliceKey, channelId, DEPOSIT + 1), IPaymentChannels.ClaimSkipReason.ExceedsDeposit);
    }

    function test_Claim_BlocklistedPayeeDoesNotStopTheBatch() public {
        bytes32 toDave = _open(carolKey, dave, SALT, DEPOSIT);
        _blocklist(bob);
        IPaymentChannels.VoucherClaim[] memory claims =
            _claims(_voucher(aliceKey, channelId, 10e6), _voucher(carolKey, toDave, 6e6));

        _expectSkipped(0, channelId, IPaymentChannels.ClaimSkipReason.PayeeBlocklisted);
        vm.expectEmit(address(channels));
        emit IPaymentChannels.VoucherClaimed(toDave, dave, 6e6, 6e6);
        vm.expectEmit(address(token));
        emit IERC20.Transfer(address(channels), dave, 6e6);
        vm.prank(relayer);
        assertEq(channels.claim(claims), 6e6, "only dave's claim paid");

        _assertChannel(channelId, alice, bob, DEPOSIT, 0, 0);
        _assertChannel(toDave, carol, dave, DEPOSIT, 6e6, 0);
        assertEq(token.balanceOf(bob), 0, "bob");
        assertEq(token.balanceOf(dave), 6e6, "dave");
        assertEq(token.balanceOf(address(channels)), 2 * DEPOSIT - 6e6, "bob's share stays escrowed");
    }

    function test_Claim_SkipsEveryClaimOfABlocklistedPayeeBetweenOthers() public {
        bytes32 toDave = _open(carolKey, dave, SALT, DEPOSIT);
        bytes32 secondToBob = _open(carolKey, bob, SALT, DEPOSIT);
        _blocklist(dave);
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](4);
        claims[0] = _voucher(aliceKey, channelId, 1e6);
        claims[1] = _voucher(carolKey, toDave, 2e6);
        claims[2] = _voucher(carolKey, toDave, 3e6);
        claims[3] = _voucher(carolKey, secondToBob, 4e6);

        _expectSkipped(1, toDave, IPaymentChannels.ClaimSkipReason.PayeeBlocklisted);
        _expectSkipped(2, toDave, IPaymentChannels.ClaimSkipReason.PayeeBlocklisted);
        RecordedLogs.VM_LOGS.recordLogs();
        vm.prank(relayer);
        assertEq(channels.claim(claims), 5e6);
        VmLogs.Log[] memory logs = RecordedLogs.VM_LOGS.getRecordedLogs();

        assertEq(logs.count(address(token), IERC20.Transfer.selector), 1, "bob's two claims in one run");
        assertEq(token.balanceOf(bob), 5e6, "bob");
        assertEq(token.balanceOf(dave), 0, "dave");
        _assertChannel(toDave, carol, dave, DEPOSIT, 0, 0);
    }

    function test_Claim_SkippedVoucherPaysOnceThePayeeIsOffTheBlocklist() public {
        IPaymentChannels.VoucherClaim memory voucher = _voucher(aliceKey, channelId, 10e6);
        _blocklist(bob);
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.PayeeBlocklisted);

        _unblocklist(bob);
        assertEq(_claimOne(voucher), 10e6, "the same voucher pays");
        assertEq(token.balanceOf(bob), 10e6, "once");
        _assertSkipped(voucher, IPaymentChannels.ClaimSkipReason.NotAboveClaimed);
    }

    function test_Claim_BlocklistedPayerStillPaysThePayee() public {
        // The payer's tokens are already escrowed; the transfer is from this contract to the payee.
        _blocklist(alice);
        assertEq(_claimOne(_voucher(aliceKey, channelId, 3e6)), 3e6);
        assertEq(token.balanceOf(bob), 3e6, "payee");
    }

    function test_RevertWhen_ClaimingWhileTheChannelsContractIsBlocklisted() public {
        // No claim could be paid, so the batch reverts as the token does, like a paused token.
        _blocklist(address(channels));
        IPaymentChannels.VoucherClaim[] memory claims = new IPaymentChannels.VoucherClaim[](1);
        claims[0] = _voucher(aliceKey, channelId, 1e6);
        vm.expectRevert(abi.encodeWithSelector(IStablecoin.AccountBlocklisted.selector, address(channels)));
        vm.prank(relayer);
        channels.claim(claims);
    }

    // ---------------------------------------------------------------- reverts

    function test_RevertWhen_ClaimBatchIsEmpty() public {
        vm.expectRevert(IPaymentChannels.NoClaims.selector);
        channels.claim(new IPaymentChannels.VoucherClaim[](0));
    }

    function test_RevertWhen_ClaimBatchIsTooLarge() public {
        uint256 count = channels.MAX_CLAIMS_PER_CALL() + 1;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.TooManyClaims.selector, count, count - 1));
        channels.claim(new IPaymentChannels.VoucherClaim[](count));
    }
}
