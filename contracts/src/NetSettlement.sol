// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IERC3009} from "./interfaces/IERC3009.sol";
import {INetSettlement} from "./interfaces/INetSettlement.sol";

/// @title NetSettlement
/// @notice Deposits netted by an operator in sequential windows with Merkle-committed payments.
/// See {INetSettlement}.
/// @dev Settling touches exactly one storage slot per account (its balance), so a window costs
/// about one cold read and one write per account. The sum of all balances always equals the
/// tokens this contract holds: deposits and withdrawals move both by the same amount, and a
/// window's deltas sum to zero.
contract NetSettlement is INetSettlement, AccessControl {
    using SafeERC20 for IERC20;

    /// @inheritdoc INetSettlement
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @inheritdoc INetSettlement
    uint256 public constant MAX_ACCOUNTS_PER_WINDOW = 1024;

    /// @notice The longest withdrawal delay the constructor accepts: thirty days.
    uint64 public constant MAX_WITHDRAWAL_DELAY_SECONDS = 30 days;

    /// @dev The largest magnitude of one delta. With at most MAX_ACCOUNTS_PER_WINDOW deltas of at
    /// most this size, a window's sum stays below 2**139 in magnitude and can never overflow.
    int256 private constant _MAX_DELTA = int256(uint256(type(uint128).max));

    /// @dev One record per account. Settlement touches only `balance`, the record's first slot.
    struct Account {
        uint256 balance;
        uint256 withdrawalAmount;
        uint64 withdrawalAvailableAt;
    }

    IERC20 private immutable _token;
    uint64 private immutable _withdrawalDelaySeconds;

    mapping(address account => Account) private _accounts;
    mapping(uint64 windowId => bytes32 paymentsRoot) private _windowRoots;
    uint64 private _nextWindowId;

    /// @param token_ The deposited token; it must implement IERC20 and IERC3009.
    /// @param admin The account given `DEFAULT_ADMIN_ROLE`, which grants `OPERATOR_ROLE`.
    /// @param withdrawalDelaySeconds_ Seconds between a withdrawal request and the earliest
    /// withdrawal: the operator's time to settle the account's pending payments. At least 1, at
    /// most thirty days.
    constructor(address token_, address admin, uint64 withdrawalDelaySeconds_) {
        if (token_ == address(0) || admin == address(0)) revert ZeroAddress();
        if (withdrawalDelaySeconds_ == 0 || withdrawalDelaySeconds_ > MAX_WITHDRAWAL_DELAY_SECONDS) {
            revert InvalidWithdrawalDelay(withdrawalDelaySeconds_, MAX_WITHDRAWAL_DELAY_SECONDS);
        }
        _token = IERC20(token_);
        _withdrawalDelaySeconds = withdrawalDelaySeconds_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- deposits

    /// @inheritdoc INetSettlement
    function deposit(
        address account,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        if (amount == 0) revert ZeroAmount();
        _accounts[account].balance += amount;
        emit Deposited(account, amount);

        IERC3009(address(_token))
            .receiveWithAuthorization(account, address(this), amount, validAfter, validBefore, nonce, signature);
    }

    // ---------------------------------------------------------------- settlement

    /// @inheritdoc INetSettlement
    function settleWindow(
        uint64 windowId,
        bytes32 paymentsRoot,
        uint32 paymentCount,
        address[] calldata accounts,
        int256[] calldata deltas
    ) external onlyRole(OPERATOR_ROLE) {
        uint64 expectedWindowId = _nextWindowId;
        if (windowId != expectedWindowId) revert WindowOutOfOrder(windowId, expectedWindowId);
        uint256 accountCount = accounts.length;
        if (accountCount != deltas.length) revert LengthMismatch(accountCount, deltas.length);
        if (accountCount > MAX_ACCOUNTS_PER_WINDOW) revert TooManyAccounts(accountCount, MAX_ACCOUNTS_PER_WINDOW);
        if (!_isConsistentWindow(paymentsRoot, paymentCount, accountCount)) {
            revert InconsistentWindow(paymentsRoot, paymentCount, accountCount);
        }

        _nextWindowId = expectedWindowId + 1;
        if (paymentsRoot != bytes32(0)) _windowRoots[windowId] = paymentsRoot;
        _applyDeltas(accounts, deltas);
        emit WindowSettled(windowId, paymentsRoot, paymentCount, accountCount);
    }

    // ---------------------------------------------------------------- withdrawals

    /// @inheritdoc INetSettlement
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        // Cannot truncate or overflow: block.timestamp fits in 64 bits for billions of years and
        // the delay is at most thirty days (checked in the constructor).
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 availableAt = uint64(block.timestamp) + _withdrawalDelaySeconds;
        Account storage entry = _accounts[msg.sender];
        entry.withdrawalAmount = amount;
        entry.withdrawalAvailableAt = availableAt;
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @inheritdoc INetSettlement
    function withdraw() external {
        Account storage entry = _accounts[msg.sender];
        uint64 availableAt = entry.withdrawalAvailableAt;
        if (availableAt == 0) revert WithdrawalNotRequested(msg.sender);
        if (block.timestamp < availableAt) revert WithdrawalNotReady(msg.sender, availableAt, block.timestamp);

        uint256 requested = entry.withdrawalAmount;
        uint256 balance = entry.balance;
        uint256 amount = requested < balance ? requested : balance;
        entry.withdrawalAmount = 0;
        entry.withdrawalAvailableAt = 0;
        // Cannot underflow: amount <= balance by its definition just above.
        unchecked {
            entry.balance = balance - amount;
        }
        emit Withdrawn(msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc INetSettlement
    function balanceOf(address account) external view returns (uint256) {
        return _accounts[account].balance;
    }

    /// @inheritdoc INetSettlement
    function withdrawalRequest(address account) external view returns (uint256 amount, uint64 availableAt) {
        Account storage entry = _accounts[account];
        return (entry.withdrawalAmount, entry.withdrawalAvailableAt);
    }

    /// @inheritdoc INetSettlement
    function nextWindowId() external view returns (uint64) {
        return _nextWindowId;
    }

    /// @inheritdoc INetSettlement
    function windowRoot(uint64 windowId) external view returns (bytes32) {
        return _windowRoots[windowId];
    }

    /// @inheritdoc INetSettlement
    function paymentLeaf(bytes32 paymentId, address payer, address payee, uint256 value)
        external
        pure
        returns (bytes32)
    {
        return _paymentLeaf(paymentId, payer, payee, value);
    }

    /// @inheritdoc INetSettlement
    function verifyPayment(
        uint64 windowId,
        bytes32 paymentId,
        address payer,
        address payee,
        uint256 value,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _windowRoots[windowId];
        if (root == bytes32(0)) return false;
        return MerkleProof.verifyCalldata(proof, root, _paymentLeaf(paymentId, payer, payee, value));
    }

    /// @inheritdoc INetSettlement
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc INetSettlement
    function withdrawalDelaySeconds() external view returns (uint64) {
        return _withdrawalDelaySeconds;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Applies every delta, then checks that they summed to zero; any failed check reverts the
    /// whole window. Strictly ascending accounts make duplicates impossible at the cost of one
    /// comparison each.
    function _applyDeltas(address[] calldata accounts, int256[] calldata deltas) private {
        int256 sum = 0;
        // Starting from the zero address also rejects the zero address as the first account.
        address previous = address(0);
        uint256 accountCount = accounts.length;
        for (uint256 i = 0; i < accountCount; ++i) {
            address account = accounts[i];
            if (account <= previous) revert AccountsNotAscending(i, previous, account);
            previous = account;
            int256 delta = deltas[i];
            if (delta > _MAX_DELTA || delta < -_MAX_DELTA) revert DeltaOutOfRange(account, delta);
            // Cannot overflow: at most MAX_ACCOUNTS_PER_WINDOW terms of magnitude at most 2**128.
            unchecked {
                sum += delta;
            }

            Account storage entry = _accounts[account];
            uint256 balance = entry.balance;
            if (delta < 0) {
                uint256 decrease;
                // Cannot overflow: -_MAX_DELTA <= delta < 0, so -delta is a positive int256, and
                // decrease <= balance is checked before the subtraction is used.
                unchecked {
                    // forge-lint: disable-next-line(unsafe-typecast)
                    decrease = uint256(-delta);
                    if (decrease > balance) revert NetChangeExceedsDeposit(account, balance, delta);
                    entry.balance = balance - decrease;
                }
            } else {
                // Cannot truncate: delta >= 0 here. The addition stays checked.
                // forge-lint: disable-next-line(unsafe-typecast)
                entry.balance = balance + uint256(delta);
            }
        }
        if (sum != 0) revert DeltasDoNotSumToZero(sum);
    }

    /// @dev A window without payments has a zero root and changes no account; a window with
    /// payments has a non-zero root, and each payment changes at most two accounts.
    function _isConsistentWindow(bytes32 paymentsRoot, uint32 paymentCount, uint256 accountCount)
        private
        pure
        returns (bool)
    {
        if (paymentCount == 0) return paymentsRoot == bytes32(0) && accountCount == 0;
        return paymentsRoot != bytes32(0) && accountCount <= 2 * uint256(paymentCount);
    }

    function _paymentLeaf(bytes32 paymentId, address payer, address payee, uint256 value)
        private
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(paymentId, payer, payee, value))));
    }
}
