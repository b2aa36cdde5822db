// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Unidirectional payment channels with cumulative EIP-712 vouchers
/// @notice A payer escrows tokens once for one payee and then pays off-chain by signing vouchers, each
/// stating the cumulative amount owed so far. The payee (or any relayer) claims the latest voucher of
/// many channels in one transaction; only the increase over what was already claimed is paid, so a
/// voucher can never be paid twice and a retried claim is harmless.
///
/// Lifecycle: `open` (funded by the payer's EIP-3009 `ReceiveWithAuthorization`), any number of
/// `topUp`s and `claim`s, then either `closeCooperatively` by the payee or, if the payee disappears,
/// `requestWithdrawal` and, after the challenge period, `withdraw` by the payer. Both endings delete
/// the channel. A channel id can never be opened again: its funding nonce is spent on the token.
///
/// Vouchers are EIP-712 typed data `Voucher(bytes32 channelId,uint256 cumulativeAmount)` in the
/// domain `{name: "Robot Payment Channels", version: "1", chainId, verifyingContract: this}`, signed
/// by the payer's key as a 64-byte EIP-2098 compact signature `(r, vs)`. Only ECDSA signatures are
/// accepted: a contract-wallet payer can fund a channel but cannot sign vouchers for it.
interface IPaymentChannels {
    /// @notice One voucher submitted to `claim`.
    /// @param channelId The channel the voucher belongs to.
    /// @param cumulativeAmount Everything the payer owes the payee on this channel so far, in base units.
    /// @param r The `r` half of the payer's EIP-2098 signature.
    /// @param vs The `s` value with the parity of `v` in its top bit (EIP-2098).
    struct VoucherClaim {
        bytes32 channelId;
        uint256 cumulativeAmount;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Why `claim` skipped a voucher instead of paying it.
    /// @dev UnknownChannel: never opened, or already closed or withdrawn. InvalidSignature: not signed
    /// by the channel's payer. NotAboveClaimed: the cumulative amount is not above what was already
    /// claimed (a replay, or an older voucher). ExceedsDeposit: above the deposit; the same voucher
    /// becomes claimable after a large enough top-up. PayeeBlocklisted: the token's blocklist holds
    /// the channel's payee, so the token would refuse the payment; the voucher stays claimable
    /// should the payee be taken off the blocklist.
    enum ClaimSkipReason {
        UnknownChannel,
        InvalidSignature,
        NotAboveClaimed,
        ExceedsDeposit,
        PayeeBlocklisted
    }

    /// @notice Emitted when `payer` opened `channelId` for `payee` with `deposit` base units.
    event ChannelOpened(
        bytes32 indexed channelId, address indexed payer, address indexed payee, bytes32 salt, uint256 deposit
    );

    /// @notice Emitted when `amount` was added to `channelId`'s deposit, which is now `newDeposit`.
    event ChannelToppedUp(bytes32 indexed channelId, bytes32 topUpSalt, uint256 amount, uint256 newDeposit);

    /// @notice Emitted when a voucher for `cumulativeAmount` was claimed on `channelId`, paying
    /// `paid` (the increase over the previous claim) to `payee`.
    event VoucherClaimed(bytes32 indexed channelId, address indexed payee, uint256 cumulativeAmount, uint256 paid);

    /// @notice Emitted when the voucher at position `index` of a `claim` batch was skipped.
    event ClaimSkipped(uint256 index, bytes32 indexed channelId, ClaimSkipReason reason);

    /// @notice Emitted when the payer of `channelId` started a timed withdrawal that becomes possible
    /// at `withdrawableAt` (unix seconds).
    event WithdrawalRequested(bytes32 indexed channelId, uint64 withdrawableAt);

    /// @notice Emitted when `channelId` was deleted, paying `paidToPayee` to the payee and refunding
    /// `refundedToPayer` to the payer in the same transaction.
    event ChannelClosed(bytes32 indexed channelId, uint256 paidToPayee, uint256 refundedToPayer);

    /// @notice An address given to the constructor, or a channel's payer, is the zero address.
    error ZeroAddress();

    /// @notice The challenge period must be between one second and `maxSeconds`.
    error InvalidChallengePeriod(uint64 challengePeriodSeconds, uint64 maxSeconds);

    /// @notice `payee` cannot receive channel payments (the zero address or this contract).
    error InvalidPayee(address payee);

    /// @notice Deposits and top-ups must be greater than zero.
    error ZeroAmount();

    /// @notice Adding `amount` to a channel's `currentDeposit` (zero when opening) would exceed the
    /// largest storable deposit, `maxDeposit`.
    error DepositTooLarge(uint256 currentDeposit, uint256 amount, uint256 maxDeposit);

    /// @notice `channelId` is already open.
    error ChannelAlreadyExists(bytes32 channelId);

    /// @notice `channelId` was never opened, or was closed or withdrawn.
    error UnknownChannel(bytes32 channelId);

    /// @notice A `claim` batch must hold at least one voucher.
    error NoClaims();

    /// @notice A `claim` batch held `count` vouchers; at most `maxCount` are allowed.
    error TooManyClaims(uint256 count, uint256 maxCount);

    /// @notice Only the payee `payee` of `channelId` may do this, not `caller`.
    error CallerNotPayee(bytes32 channelId, address caller, address payee);

    /// @notice Only the payer `payer` of `channelId` may do this, not `caller`.
    error CallerNotPayer(bytes32 channelId, address caller, address payer);

    /// @notice The voucher for `channelId` is not signed by its payer `payer`.
    error InvalidVoucherSignature(bytes32 channelId, address payer);

    /// @notice The voucher's `cumulativeAmount` is below the `claimed` amount of `channelId`.
    error VoucherBelowClaimed(bytes32 channelId, uint256 cumulativeAmount, uint256 claimed);

    /// @notice The voucher's `cumulativeAmount` is above the `deposit` of `channelId`.
    error VoucherExceedsDeposit(bytes32 channelId, uint256 cumulativeAmount, uint256 deposit);

    /// @notice A withdrawal of `channelId` was already requested; it becomes possible at `withdrawableAt`.
    error WithdrawalAlreadyRequested(bytes32 channelId, uint64 withdrawableAt);

    /// @notice The payer of `channelId` has not requested a withdrawal.
    error WithdrawalNotRequested(bytes32 channelId);

    /// @notice `channelId` can be withdrawn at `withdrawableAt`; the block time is `nowTimestamp`.
    error WithdrawalNotReady(bytes32 channelId, uint64 withdrawableAt, uint256 nowTimestamp);

    /// @notice Opens a channel from `payer` to `payee`, pulling `deposit` from the payer with the
    /// payer's EIP-3009 `ReceiveWithAuthorization(from = payer, to = this contract, value = deposit,
    /// validAfter, validBefore, nonce = channelId)`. Anyone may submit it: because the nonce is the
    /// channel id, the payer's signature binds the payee and the salt, so a relayer cannot redirect
    /// the deposit into a channel of its own.
    /// @param payer The account that funds the channel and signs vouchers.
    /// @param payee The account paid by vouchers; not the zero address or this contract.
    /// @param salt Any value that makes the channel id unique for the pair.
    /// @param deposit Base units to escrow; greater than zero and at most `type(uint96).max`.
    /// @param signature The payer's 65-byte ECDSA (or EIP-1271) signature of the authorization.
    /// @return channelId `keccak256(abi.encode(payer, payee, salt))`.
    function open(
        address payer,
        address payee,
        bytes32 salt,
        uint256 deposit,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) external returns (bytes32 channelId);

    /// @notice Adds `amount` to an open channel's deposit, pulled from its payer with an EIP-3009
    /// `ReceiveWithAuthorization` whose nonce is `keccak256(abi.encode(channelId, topUpSalt))`.
    /// Anyone may submit it. A pending withdrawal request is left as it is.
    /// @param topUpSalt Any value unique among the channel's top-ups.
    function topUp(
        bytes32 channelId,
        bytes32 topUpSalt,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes calldata signature
    ) external;

    /// @notice Pays each valid voucher's increase over the channel's claimed amount to the channel's
    /// payee. Invalid vouchers, and vouchers whose payee is on the token's blocklist, are skipped
    /// with a `ClaimSkipped` event and a reason, never reverting the batch, so a batch that races
    /// another claim of the same vouchers, or holds one payee the token refuses, still pays the
    /// rest. Anyone may call it; the money only ever goes to each channel's payee.
    /// Checks, in order: {ClaimSkipReason.UnknownChannel}, {ClaimSkipReason.InvalidSignature},
    /// {ClaimSkipReason.NotAboveClaimed}, {ClaimSkipReason.ExceedsDeposit},
    /// {ClaimSkipReason.PayeeBlocklisted}. A paused token, or a blocklisted channels contract,
    /// still reverts the whole batch: then no claim could be paid.
    /// @dev Consecutive claims for the same payee are paid in one token transfer: sort claims by
    /// payee to save gas. All transfers happen after all state changes.
    /// @param claims Between 1 and `MAX_CLAIMS_PER_CALL` vouchers.
    /// @return paidTotal The sum paid to all payees.
    function claim(VoucherClaim[] calldata claims) external returns (uint256 paidTotal);

    /// @notice Cooperative close by the payee: pays the voucher's increase over the claimed amount
    /// to the payee, refunds the rest of the deposit to the payer and deletes the channel.
    /// @dev Only the payee may call it, so nobody can cut the payee off with an older voucher. The
    /// voucher must be signed by the payer, not below the claimed amount and not above the deposit.
    /// The payee may close with the voucher it last claimed, paying nothing more.
    function closeCooperatively(bytes32 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external;

    /// @notice Starts the payer's timed withdrawal: after `challengePeriodSeconds` the payer may
    /// `withdraw` whatever is still unclaimed. The payee can keep claiming until the withdrawal
    /// actually happens. Only the payer, once per channel.
    function requestWithdrawal(bytes32 channelId) external;

    /// @notice Refunds the unclaimed deposit to the payer and deletes the channel. Only the payer,
    /// and only at or after the channel's `withdrawableAt`.
    function withdraw(bytes32 channelId) external;

    /// @notice The state of `channelId`; all zero for an unknown channel.
    /// @return payer The funder and voucher signer.
    /// @return payee The receiver of voucher payments.
    /// @return deposit Everything escrowed so far (including what was already claimed).
    /// @return claimed Everything paid to the payee so far.
    /// @return withdrawableAt When the payer may withdraw; zero while no withdrawal was requested.
    function channel(bytes32 channelId)
        external
        view
        returns (address payer, address payee, uint256 deposit, uint256 claimed, uint64 withdrawableAt);

    /// @notice The EIP-712 digest the payer signs for a voucher of `cumulativeAmount` on `channelId`.
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32);

    /// @notice The id of the channel from `payer` to `payee` with `salt`, which is also the EIP-3009
    /// nonce of its opening authorization.
    function computeChannelId(address payer, address payee, bytes32 salt) external pure returns (bytes32);

    /// @notice The EIP-3009 nonce of a top-up of `channelId` with `topUpSalt`.
    function topUpNonce(bytes32 channelId, bytes32 topUpSalt) external pure returns (bytes32);

    /// @notice The token escrowed by every channel.
    function token() external view returns (address);

    /// @notice Seconds between a payer's `requestWithdrawal` and the earliest `withdraw`.
    function challengePeriodSeconds() external view returns (uint64);

    /// @notice The largest number of vouchers one `claim` call accepts.
    function MAX_CLAIMS_PER_CALL() external view returns (uint256);
}
