// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {IERC3009} from "./interfaces/IERC3009.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IStablecoin} from "./interfaces/IStablecoin.sol";
import {AddressAmount, AddressAmountLib} from "./libraries/AddressAmount.sol";

/// @title PaymentChannels
/// @notice Escrowed one-way channels paid by cumulative EIP-712 vouchers. See {IPaymentChannels}.
/// @dev A channel takes two storage words on the claim path (payer with deposit, payee with
/// claimed, each an {AddressAmount}) and a third, written only by `requestWithdrawal`, for the
/// withdrawal time. A claim therefore reads two cold slots and writes one, with no other storage
/// access, plus one blocklist read on the token for each payee a batch pays. The token is trusted
/// (the project's stablecoin); even so, every function changes all state before it moves tokens.
contract PaymentChannels is IPaymentChannels, EIP712 {
    using SafeERC20 for IERC20;

    /// @inheritdoc IPaymentChannels
    uint256 public constant MAX_CLAIMS_PER_CALL = 256;

    /// @notice The longest challenge period the constructor accepts: one year.
    uint64 public constant MAX_CHALLENGE_PERIOD_SECONDS = 365 days;

    /// @notice `keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)")`.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");

    /// @dev Deposits and claimed amounts are stored in 96 bits beside an address.
    uint256 private constant _MAX_AMOUNT = AddressAmountLib.MAX_AMOUNT;

    /// @dev `claimed <= deposit` always holds; a channel exists exactly when its payer is not the
    /// zero address.
    struct Channel {
        AddressAmount payerAndDeposit;
        AddressAmount payeeAndClaimed;
        uint64 withdrawableAt;
    }

    IERC20 private immutable _token;
    uint64 private immutable _challengePeriodSeconds;

    mapping(bytes32 channelId => Channel) private _channels;

    /// @param token_ The escrowed token; it must implement IERC20, IERC3009 and the stablecoin's
    /// `isBlocklisted`, which `claim` reads to skip claims it could not pay.
    /// @param challengePeriodSeconds_ Seconds between a payer's withdrawal request and the earliest
    /// withdrawal: the payee's time to claim its last vouchers. At least 1, at most one year.
    constructor(address token_, uint64 challengePeriodSeconds_) EIP712("Robot Payment Channels", "1") {
        if (token_ == address(0)) revert ZeroAddress();
        if (challengePeriodSeconds_ == 0 || challengePeriodSeconds_ > MAX_CHALLENGE_PERIOD_SECONDS) {
            revert InvalidChallengePeriod(challengePeriodSeconds_, MAX_CHALLENGE_PERIOD_SECONDS);
        }
        _token = IERC20(token_);
        _challengePeriodSeconds = challengePeriodSeconds_;
    }

    // ---------------------------------------------------------------- funding

    /// @inheritdoc IPaymentChannels
    function open(
        address payer,
        address payee,
        bytes32 salt,
        uint256 deposit,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) external returns (bytes32 channelId) {
        if (payer == address(0)) revert ZeroAddress();
        if (payee == address(0) || payee == address(this)) revert InvalidPayee(payee);
        if (deposit == 0) revert ZeroAmount();
        if (deposit > _MAX_AMOUNT) revert DepositTooLarge(0, deposit, _MAX_AMOUNT);
        channelId = _channelId(payer, payee, salt);
        Channel storage stored = _channels[channelId];
        if (stored.payerAndDeposit.addressOf() != address(0)) revert ChannelAlreadyExists(channelId);

        stored.payerAndDeposit = AddressAmountLib.pack(payer, deposit);
        stored.payeeAndClaimed = AddressAmountLib.pack(payee, 0);
        emit ChannelOpened(channelId, payer, payee, salt, deposit);

        IERC3009(address(_token))
            .receiveWithAuthorization(payer, address(this), deposit, validAfter, validBefore, channelId, signature);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(
        bytes32 channelId,
        bytes32 topUpSalt,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) external {
        address payer = _addDeposit(channelId, topUpSalt, amount);
        IERC3009(address(_token))
            .receiveWithAuthorization(
                payer, address(this), amount, validAfter, validBefore, _topUpNonce(channelId, topUpSalt), signature
            );
    }

    // ---------------------------------------------------------------- claiming

    /// @inheritdoc IPaymentChannels
    function claim(VoucherClaim[] calldata claims) external returns (uint256 paidTotal) {
        uint256 count = claims.length;
        if (count == 0) revert NoClaims();
        if (count > MAX_CLAIMS_PER_CALL) revert TooManyClaims(count, MAX_CLAIMS_PER_CALL);

        bytes32 separator = _domainSeparatorV4();
        // A run is a stretch of consecutive paid claims with the same payee. The current run is kept
        // in locals; each finished run is recorded and becomes one transfer after the loop, so no
        // token moves before every claim's state change is made.
        address[] memory runPayees = new address[](count);
        uint256[] memory runAmounts = new uint256[](count);
        uint256 runCount = 0;
        address runPayee = address(0);
        uint256 runAmount = 0;
        for (uint256 i = 0; i < count; ++i) {
            // The current run's payee was found not blocklisted when its run began, and the
            // blocklist cannot change within this call, so its further claims skip the read.
            (address payee, uint256 paid) = _claim(i, claims[i], separator, runPayee);
            if (paid == 0) continue;
            // Cannot overflow: each `paid` is at most one channel's deposit, below 2**96, and a
            // batch holds at most MAX_CLAIMS_PER_CALL of them; runCount < i + 1 <= count.
            unchecked {
                paidTotal += paid;
                if (payee == runPayee) {
                    runAmount += paid;
                    continue;
                }
                if (runAmount != 0) {
                    runPayees[runCount] = runPayee;
                    runAmounts[runCount] = runAmount;
                    ++runCount;
                }
                runPayee = payee;
                runAmount = paid;
            }
        }

        for (uint256 j = 0; j < runCount; ++j) {
            _token.safeTransfer(runPayees[j], runAmounts[j]);
        }
        // A paid claim never has the zero address as payee, so a non-zero amount means a last run.
        if (runAmount != 0) _token.safeTransfer(runPayee, runAmount);
    }

    /// @inheritdoc IPaymentChannels
    function closeCooperatively(bytes32 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external {
        Channel storage stored = _channels[channelId];
        AddressAmount payerAndDeposit = stored.payerAndDeposit;
        AddressAmount payeeAndClaimed = stored.payeeAndClaimed;
        address payer = payerAndDeposit.addressOf();
        if (payer == address(0)) revert UnknownChannel(channelId);
        address payee = payeeAndClaimed.addressOf();
        if (msg.sender != payee) revert CallerNotPayee(channelId, msg.sender, payee);
        if (!_isSignedBy(payer, _voucherDigest(_domainSeparatorV4(), channelId, cumulativeAmount), r, vs)) {
            revert InvalidVoucherSignature(channelId, payer);
        }
        uint256 claimed = payeeAndClaimed.amountOf();
        if (cumulativeAmount < claimed) revert VoucherBelowClaimed(channelId, cumulativeAmount, claimed);
        uint256 deposit = payerAndDeposit.amountOf();
        if (cumulativeAmount > deposit) revert VoucherExceedsDeposit(channelId, cumulativeAmount, deposit);

        delete _channels[channelId];
        // Cannot underflow: claimed <= cumulativeAmount <= deposit was checked above.
        uint256 paid;
        uint256 refund;
        unchecked {
            paid = cumulativeAmount - claimed;
            refund = deposit - cumulativeAmount;
        }
        emit ChannelClosed(channelId, paid, refund);

        if (paid != 0) _token.safeTransfer(payee, paid);
        if (refund != 0) _token.safeTransfer(payer, refund);
    }

    // ---------------------------------------------------------------- timed withdrawal

    /// @inheritdoc IPaymentChannels
    function requestWithdrawal(bytes32 channelId) external {
        Channel storage stored = _requirePayer(channelId);
        uint64 withdrawableAt = stored.withdrawableAt;
        if (withdrawableAt != 0) revert WithdrawalAlreadyRequested(channelId, withdrawableAt);

        // Cannot truncate or overflow: block.timestamp fits in 64 bits for billions of years and
        // the challenge period is at most one year (checked in the constructor).
        // forge-lint: disable-next-line(unsafe-typecast)
        withdrawableAt = uint64(block.timestamp) + _challengePeriodSeconds;
        stored.withdrawableAt = withdrawableAt;
        emit WithdrawalRequested(channelId, withdrawableAt);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(bytes32 channelId) external {
        Channel storage stored = _requirePayer(channelId);
        uint64 withdrawableAt = stored.withdrawableAt;
        if (withdrawableAt == 0) revert WithdrawalNotRequested(channelId);
        if (block.timestamp < withdrawableAt) revert WithdrawalNotReady(channelId, withdrawableAt, block.timestamp);

        AddressAmount payerAndDeposit = stored.payerAndDeposit;
        address payer = payerAndDeposit.addressOf();
        uint256 refund;
        // Cannot underflow: claimed <= deposit holds for every channel.
        unchecked {
            refund = payerAndDeposit.amountOf() - stored.payeeAndClaimed.amountOf();
        }
        delete _channels[channelId];
        emit ChannelClosed(channelId, 0, refund);

        if (refund != 0) _token.safeTransfer(payer, refund);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaymentChannels
    function channel(bytes32 channelId)
        external
        view
        returns (address payer, address payee, uint256 deposit, uint256 claimed, uint64 withdrawableAt)
    {
        Channel storage stored = _channels[channelId];
        AddressAmount payerAndDeposit = stored.payerAndDeposit;
        AddressAmount payeeAndClaimed = stored.payeeAndClaimed;
        return (
            payerAndDeposit.addressOf(),
            payeeAndClaimed.addressOf(),
            payerAndDeposit.amountOf(),
            payeeAndClaimed.amountOf(),
            stored.withdrawableAt
        );
    }

    /// @inheritdoc IPaymentChannels
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32) {
        return _voucherDigest(_domainSeparatorV4(), channelId, cumulativeAmount);
    }

    /// @inheritdoc IPaymentChannels
    function computeChannelId(address payer, address payee, bytes32 salt) external pure returns (bytes32) {
        return _channelId(payer, payee, salt);
    }

    /// @inheritdoc IPaymentChannels
    function topUpNonce(bytes32 channelId, bytes32 topUpSalt) external pure returns (bytes32) {
        return _topUpNonce(channelId, topUpSalt);
    }

    /// @inheritdoc IPaymentChannels
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IPaymentChannels
    function challengePeriodSeconds() external view returns (uint64) {
        return _challengePeriodSeconds;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Checks and pays one voucher of a batch; a voucher that fails a check is skipped with an
    /// event and pays nothing. The signature is checked before the amounts so that a forged voucher
    /// is always reported as such, whatever amount it names. The blocklist is checked last, just
    /// before the state change: the token would refuse the transfer to a blocklisted payee and
    /// revert the whole batch, so such a claim is skipped instead and its voucher stays claimable.
    /// @param clearedPayee A payee already found not blocklisted in this call (or the zero address).
    /// @return payee The channel's payee (meaningful only when `paid` is not zero).
    /// @return paid The increase now owed to `payee`; zero when skipped.
    function _claim(uint256 index, VoucherClaim calldata voucher, bytes32 separator, address clearedPayee)
        private
        returns (address payee, uint256 paid)
    {
        bytes32 channelId = voucher.channelId;
        Channel storage stored = _channels[channelId];
        AddressAmount payerAndDeposit = stored.payerAndDeposit;
        address payer = payerAndDeposit.addressOf();
        if (payer == address(0)) {
            emit ClaimSkipped(index, channelId, ClaimSkipReason.UnknownChannel);
            return (address(0), 0);
        }
        uint256 cumulativeAmount = voucher.cumulativeAmount;
        if (!_isSignedBy(payer, _voucherDigest(separator, channelId, cumulativeAmount), voucher.r, voucher.vs)) {
            emit ClaimSkipped(index, channelId, ClaimSkipReason.InvalidSignature);
            return (address(0), 0);
        }
        AddressAmount payeeAndClaimed = stored.payeeAndClaimed;
        uint256 claimed = payeeAndClaimed.amountOf();
        if (cumulativeAmount <= claimed) {
            emit ClaimSkipped(index, channelId, ClaimSkipReason.NotAboveClaimed);
            return (address(0), 0);
        }
        if (cumulativeAmount > payerAndDeposit.amountOf()) {
            emit ClaimSkipped(index, channelId, ClaimSkipReason.ExceedsDeposit);
            return (address(0), 0);
        }

        payee = payeeAndClaimed.addressOf();
        if (payee != clearedPayee && IStablecoin(address(_token)).isBlocklisted(payee)) {
            emit ClaimSkipped(index, channelId, ClaimSkipReason.PayeeBlocklisted);
            return (address(0), 0);
        }
        // Fits: cumulativeAmount <= deposit, which itself fits in the packed amount.
        stored.payeeAndClaimed = AddressAmountLib.pack(payee, cumulativeAmount);
        // Cannot underflow: cumulativeAmount > claimed was checked above.
        unchecked {
            paid = cumulativeAmount - claimed;
        }
        emit VoucherClaimed(channelId, payee, cumulativeAmount, paid);
    }

    /// @dev The checks and effects of `topUp`, apart to keep its stack small.
    /// @return payer The channel's payer, who funds the top-up.
    function _addDeposit(bytes32 channelId, bytes32 topUpSalt, uint256 amount) private returns (address payer) {
        Channel storage stored = _channels[channelId];
        AddressAmount payerAndDeposit = stored.payerAndDeposit;
        payer = payerAndDeposit.addressOf();
        if (payer == address(0)) revert UnknownChannel(channelId);
        if (amount == 0) revert ZeroAmount();
        uint256 deposit = payerAndDeposit.amountOf();
        // Compared as a difference so that a huge amount is reported rather than overflowing.
        if (amount > _MAX_AMOUNT - deposit) revert DepositTooLarge(deposit, amount, _MAX_AMOUNT);
        uint256 newDeposit;
        // Cannot overflow: amount <= _MAX_AMOUNT - deposit was checked just above.
        unchecked {
            newDeposit = deposit + amount;
        }

        stored.payerAndDeposit = AddressAmountLib.pack(payer, newDeposit);
        emit ChannelToppedUp(channelId, topUpSalt, amount, newDeposit);
    }

    /// @dev Reverts unless `channelId` exists and the caller is its payer.
    function _requirePayer(bytes32 channelId) private view returns (Channel storage stored) {
        stored = _channels[channelId];
        address payer = stored.payerAndDeposit.addressOf();
        if (payer == address(0)) revert UnknownChannel(channelId);
        if (msg.sender != payer) revert CallerNotPayer(channelId, msg.sender, payer);
    }

    /// @dev `tryRecover` returns the zero address for every malformed or malleable (high-s)
    /// signature, and `signer` is never zero here, so one comparison covers every failure.
    function _isSignedBy(address signer, bytes32 digest, bytes32 r, bytes32 vs) private pure returns (bool) {
        // Every error comes with a zero `recovered`, so the error itself is not needed (docs/slither.md).
        // slither-disable-next-line unused-return
        (address recovered,,) = ECDSA.tryRecover(digest, r, vs);
        return recovered == signer;
    }

    /// @dev `keccak256("\x19\x01" || separator || keccak256(abi.encode(VOUCHER_TYPEHASH, channelId,
    /// cumulativeAmount)))`, hashed in the free memory past the free memory pointer without moving
    /// it: a claim batch hashes once per voucher, and allocating each time would grow memory.
    function _voucherDigest(bytes32 separator, bytes32 channelId, uint256 cumulativeAmount)
        private
        pure
        returns (bytes32 digest)
    {
        bytes32 typehash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), channelId)
            mstore(add(ptr, 0x40), cumulativeAmount)
            let structHash := keccak256(ptr, 0x60)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    function _channelId(address payer, address payee, bytes32 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(payer, payee, salt));
    }

    function _topUpNonce(bytes32 channelId, bytes32 topUpSalt) private pure returns (bytes32) {
        return keccak256(abi.encode(channelId, topUpSalt));
    }
}
