// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title Net settlement of off-chain payments in windows
/// @notice Payers and payees hold deposits here. An operator verifies signed payments off-chain,
/// nets them over a window and posts, per window, the net balance change of each account involved
/// plus the Merkle root of the window's payments, so that anyone can check that one payment was
/// included. Windows are numbered 0, 1, 2, ... and settled strictly in order.
///
/// A window is applied all or nothing: it reverts as a whole if its deltas do not sum to zero, an
/// account appears twice (accounts must be strictly ascending), or any balance would go negative.
/// The per-account changes are not logged one by one (that would more than double the cost); they
/// are in the `settleWindow` calldata of the transaction that emitted `WindowSettled`.
///
/// A window's changes are packed one word per account, so that an account costs 32 bytes of
/// calldata, mostly zero bytes for small amounts: the account in the high 160 bits, then a debit
/// flag (bit 95, set when the balance falls), then the magnitude of the change in the low 95 bits.
/// Sign and magnitude, not two's complement, so that a small debit is not a run of 0xff bytes.
///
/// Each account's state is one storage word (its balance, up to `type(uint128).max`, beside its
/// pending withdrawal time and an "open" flag) plus a second word that only withdrawal requests
/// use, so a window reads and writes exactly one word per account. An account is open from its
/// first credit, deposit or `openAccounts` until a debit or withdrawal empties its balance. While
/// open its word is non-zero, so a credit rewrites a word (2,900 gas) instead of creating one
/// (20,000 gas): opening a payee's account ahead of its first credit moves that one-off cost out
/// of the window. Emptying an account closes it and frees its word (a gas refund), as before.
///
/// Merkle leaves are `keccak256(bytes.concat(keccak256(abi.encode(paymentId, payer, payee, value))))`
/// and inner nodes hash their two children in sorted order (OpenZeppelin `MerkleProof`, the format
/// of OpenZeppelin's StandardMerkleTree for the leaf type `(bytes32,address,address,uint256)`).
///
/// Withdrawals are timed: an account requests an amount and may withdraw it after
/// `withdrawalDelaySeconds`, which gives the operator time to settle the account's pending payments
/// first. The withdrawal pays the smaller of the requested amount and the balance at that time.
interface INetSettlement {
    /// @notice Emitted when `amount` base units were deposited for `account`.
    event Deposited(address indexed account, uint256 amount);

    /// @notice Emitted when window `windowId` was settled with `paymentCount` payments under
    /// `paymentsRoot`, changing the balances of `accountCount` accounts.
    event WindowSettled(uint64 indexed windowId, bytes32 paymentsRoot, uint32 paymentCount, uint256 accountCount);

    /// @notice Emitted when `account` requested to withdraw `amount`, possible from `availableAt`.
    event WithdrawalRequested(address indexed account, uint256 amount, uint64 availableAt);

    /// @notice Emitted when `amount` was paid out to `account`.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice Emitted when an `openAccounts` call opened `openedCount` accounts that were not yet
    /// open (the accounts are in its calldata).
    event AccountsOpened(uint256 openedCount);

    /// @notice An address given to the constructor, or an account to open, is the zero address.
    error ZeroAddress();

    /// @notice The withdrawal delay must be between one second and `maxSeconds`.
    error InvalidWithdrawalDelay(uint64 withdrawalDelaySeconds, uint64 maxSeconds);

    /// @notice Deposits and withdrawal requests must be greater than zero.
    error ZeroAmount();

    /// @notice Window `windowId` was posted, but the next window to settle is `expectedWindowId`.
    error WindowOutOfOrder(uint64 windowId, uint64 expectedWindowId);

    /// @notice A window changed `accountCount` accounts; at most `maxCount` are allowed.
    error TooManyAccounts(uint256 accountCount, uint256 maxCount);

    /// @notice The window's root, payment count and account count contradict each other: a window
    /// without payments has a zero root and no accounts, one with payments has a non-zero root, and
    /// each payment changes at most two accounts.
    error InconsistentWindow(bytes32 paymentsRoot, uint32 paymentCount, uint256 accountCount);

    /// @notice `account` at position `index` is not above the `previous` account (accounts must be
    /// strictly ascending, which rules out duplicates and the zero address).
    error AccountsNotAscending(uint256 index, address previous, address account);

    /// @notice Crediting `account` with `credit` (in a window or a deposit) would take its
    /// `balance` above the largest balance held, `type(uint128).max`.
    error BalanceOutOfRange(address account, uint256 balance, uint256 credit);

    /// @notice `account`'s balance `balance` cannot absorb its negative `delta`.
    error NetChangeExceedsDeposit(address account, uint256 balance, int256 delta);

    /// @notice The window's deltas sum to `sum` instead of zero.
    error DeltasDoNotSumToZero(int256 sum);

    /// @notice `account` has no pending withdrawal request.
    error WithdrawalNotRequested(address account);

    /// @notice `account` may withdraw from `availableAt`; the block time is `nowTimestamp`.
    error WithdrawalNotReady(address account, uint64 availableAt, uint256 nowTimestamp);

    /// @notice Deposits `amount` for `account`, pulled with `account`'s EIP-3009
    /// `ReceiveWithAuthorization(from = account, to = this contract, value = amount, validAfter,
    /// validBefore, nonce)`. Anyone may relay it; only `account` is ever credited.
    function deposit(
        address account,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /// @notice Applies the net balance changes of window `windowId` and records its payments root.
    /// Only `OPERATOR_ROLE`.
    /// @param windowId Must equal `nextWindowId()`.
    /// @param paymentsRoot The Merkle root of the window's payment leaves; zero only for a window
    /// without payments.
    /// @param paymentCount The number of payments under `paymentsRoot`.
    /// @param changes One packed word per account whose balance changes (see above): accounts
    /// strictly ascending, at most `MAX_ACCOUNTS_PER_WINDOW` of them, signed changes summing to
    /// zero, each of magnitude at most `MAX_DELTA`.
    function settleWindow(uint64 windowId, bytes32 paymentsRoot, uint32 paymentCount, bytes32[] calldata changes)
        external;

    /// @notice Opens each of `accounts` not yet open, so that its first credit in a window costs
    /// what any later one does. Anyone may pay for it: opening changes no balance. The zero
    /// address cannot be opened.
    function openAccounts(address[] calldata accounts) external;

    /// @notice Requests to withdraw `amount` of the caller's balance once `withdrawalDelaySeconds`
    /// have passed. A new request replaces a pending one and restarts the delay. Requesting more
    /// than the balance (for example `type(uint256).max`) withdraws everything there is then.
    function requestWithdrawal(uint256 amount) external;

    /// @notice Pays the caller the smaller of its requested amount and its balance, and clears the
    /// request. Only at or after the request's `availableAt`.
    function withdraw() external;

    /// @notice The deposit `account` holds here, in base units.
    function balanceOf(address account) external view returns (uint256);

    /// @notice Whether `account` is open: credited, deposited into or opened since its balance was
    /// last emptied.
    function isOpen(address account) external view returns (bool);

    /// @notice `account`'s pending withdrawal: the amount requested and when it becomes possible
    /// (both zero when there is none).
    function withdrawalRequest(address account) external view returns (uint256 amount, uint64 availableAt);

    /// @notice The id the next settled window must have.
    function nextWindowId() external view returns (uint64);

    /// @notice The payments root of window `windowId`; zero for an unsettled window (or a settled
    /// window without payments).
    function windowRoot(uint64 windowId) external view returns (bytes32);

    /// @notice The Merkle leaf of one payment: `keccak256(bytes.concat(keccak256(abi.encode(paymentId,
    /// payer, payee, value))))`.
    function paymentLeaf(bytes32 paymentId, address payer, address payee, uint256 value) external pure returns (bytes32);

    /// @notice Whether the payment is included in window `windowId`, proven by `proof` (sibling
    /// hashes from the leaf up, sorted-pair hashing). False for unsettled and empty windows.
    function verifyPayment(
        uint64 windowId,
        bytes32 paymentId,
        address payer,
        address payee,
        uint256 value,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The token held as deposits.
    function token() external view returns (address);

    /// @notice Seconds between a withdrawal request and the earliest withdrawal.
    function withdrawalDelaySeconds() external view returns (uint64);

    /// @notice The role allowed to settle windows.
    function OPERATOR_ROLE() external view returns (bytes32);

    /// @notice The largest number of accounts one window may change.
    function MAX_ACCOUNTS_PER_WINDOW() external view returns (uint256);

    /// @notice The largest magnitude of one account's change in a window, `2**95 - 1` (the 95 bits
    /// a packed change holds).
    function MAX_DELTA() external view returns (uint256);
}
