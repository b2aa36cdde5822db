// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Batch settlement of signed payments
/// @notice A relayer settles many signed payments in one transaction; each settled payment is an
/// ordinary token transfer from its payer to its payee. A payment the token cannot settle is skipped
/// and reported with a {SkipReason}; it never reverts the batch, so one bad payment cannot hold up
/// the others.
///
/// Payers sign the EIP-712 message
/// `BatchPayment(address from,address to,uint256 value,uint256 nonce,uint256 validBefore)` in the
/// token's own domain (name, version "1", chain id, token address). Its typehash differs from every
/// EIP-3009 typehash, so a batch payment signature can never be replayed as a
/// `transferWithAuthorization` or `receiveWithAuthorization`, nor the other way round.
///
/// Nonces are unordered bitmap nonces, as in Uniswap's Permit2: `nonce >> 8` selects a 256-bit word
/// of the payer and `nonce & 0xff` a bit in it. Many payments share one storage slot, which is what
/// makes batch mode cheap, and a skipped payment never blocks the payer's other nonces. The
/// bitmap nonces are separate from EIP-3009's 32-byte nonces and from EIP-2612's sequential nonces.
///
/// Only ECDSA signatures of externally owned accounts are accepted, in the 64-byte EIP-2098 compact
/// form `(r, vs)`; a high `s` is rejected, so each payment has exactly one valid signature. EIP-1271
/// contract wallets are not supported here: checking one costs an external call per payment, whose
/// gas the token cannot bound, and such wallets can use EIP-3009 instead.
///
/// On the wire a payment is packed into three words (96 bytes), not seven ABI words: calldata is
/// the largest per-payment cost after signature recovery and the `Transfer` log. The first word
/// holds, from the top bit down, `fromIndex` (16 bits), `toIndex` (16), `value` (96), `nonce` (88)
/// and `validBefore` (40); then `r` and `vs`. A payment whose fields do not fit cannot be sent in a
/// batch (it can still settle through EIP-3009); what is signed is the full-width message above.
///
/// A signed payment names its payee and amount, so a relayer can neither redirect nor change it.
/// A relayer does choose which payments to include and in what order; payments are checked in array
/// order, so an earlier payment in a batch can fund a later one.
interface IBatchSettlement {
    /// @notice One signed payment of a batch, before packing (see above). Payer and payee are
    /// indexes into the batch's `accounts`, so an address repeated across payments is sent once.
    /// @param fromIndex The payer's index in `accounts`.
    /// @param toIndex The payee's index in `accounts`.
    /// @param value The amount in base units.
    /// @param nonce A bitmap nonce of the payer: word `nonce >> 8`, bit `nonce & 0xff`.
    /// @param validBefore The payment is valid strictly before this unix time.
    /// @param r The `r` of the payer's EIP-2098 compact ECDSA signature.
    /// @param vs The `s` of the signature, with the parity of `v` in its top bit.
    struct BatchPayment {
        uint32 fromIndex;
        uint32 toIndex;
        uint256 value;
        uint256 nonce;
        uint256 validBefore;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Why a payment was skipped. Only the first failing check is reported; the checks run
    /// in the order given at {settleBatch}, not in the order of these values.
    enum SkipReason {
        /// The signature is malformed, has a high `s`, or was not made by the payer over this
        /// payment in this token's domain.
        InvalidSignature,
        /// The payer's nonce was already used by a settled payment or cancelled.
        NonceAlreadyUsed,
        /// The block time is at or after `validBefore`.
        Expired,
        /// The payer's balance is below `value` when the payment is reached.
        InsufficientBalance,
        /// The payer or the payee is on the token's blocklist.
        AccountBlocklisted,
        /// `fromIndex` or `toIndex` is outside `accounts`, or names the zero address, which can
        /// neither sign nor receive.
        InvalidAccountIndex
    }

    /// @notice Emitted when the payment at `index` of a batch was skipped for `reason`. Skipping does
    /// not spend the nonce. `from` is the zero address when `fromIndex` was outside `accounts`.
    event BatchPaymentSkipped(uint256 indexed index, address indexed from, uint256 nonce, SkipReason reason);

    /// @notice Emitted once per batch: `relayer` settled `settledCount` payments and `skippedCount`
    /// were skipped. Each settled payment also emitted an ERC-20 `Transfer`.
    event BatchSettled(address indexed relayer, uint256 settledCount, uint256 skippedCount);

    /// @notice Emitted when `owner` cancelled the nonces of the bits set in `mask` within `word`.
    event BatchNoncesCancelled(address indexed owner, uint256 word, uint256 mask);

    /// @notice The batch has `size` payments or accounts, more than the `maximum` allowed.
    error BatchTooLarge(uint256 size, uint256 maximum);

    /// @notice `payments` is `length` bytes long, not a whole number of 96-byte packed payments.
    error MalformedBatch(uint256 length);

    /// @notice `accounts[index]` repeats an earlier entry: each account is listed once, since its
    /// balance and nonces are held in memory for the batch and written back once.
    error DuplicateAccount(uint256 index);

    /// @notice Settles every valid payment of `payments`, in order, and skips the others.
    /// @dev Reverts only when the token is paused (`EnforcedPause`), when `payments` or `accounts`
    /// is longer than its limit (`BatchTooLarge`), when `payments` is not whole packed payments
    /// (`MalformedBatch`), when an account is listed twice (`DuplicateAccount`), or, like any
    /// function, when the calldata is not valid ABI encoding (an account word that is not an
    /// address). Every other failure skips that
    /// one payment with a {BatchPaymentSkipped} event and leaves its nonce unused. Checks, in
    /// order: {SkipReason.InvalidAccountIndex}, {SkipReason.Expired},
    /// {SkipReason.AccountBlocklisted}, {SkipReason.NonceAlreadyUsed}, {SkipReason.InvalidSignature},
    /// {SkipReason.InsufficientBalance}. Anyone may relay a batch.
    /// @param accounts The payers and payees the payments refer to by index.
    /// @param payments The signed payments, packed: 96 bytes each.
    /// @return settledCount The number of payments settled.
    function settleBatch(address[] calldata accounts, bytes calldata payments) external returns (uint256 settledCount);

    /// @notice Cancels the caller's nonces whose bits are set in `mask` within `word`, so payments
    /// signed with them can never settle (Permit2's `invalidateUnorderedNonces`).
    /// @dev Works while the token is paused: cancelling only removes the power to move funds.
    function cancelBatchNonces(uint256 word, uint256 mask) external;

    /// @notice Whether `nonce` of `owner` was used by a settled payment or cancelled.
    function batchNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice The bitmap of `owner`'s nonces `word << 8` to `word << 8 | 255`; a set bit is a used
    /// or cancelled nonce. Clients read it to choose free nonces.
    function batchNonceBitmap(address owner, uint256 word) external view returns (uint256);
}
