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
/// @dev Settling reads and writes exactly one storage word per account (its state word), so a
/// window costs one cold read and one write of a non-zero word per open account. The sum of all
/// balances always equals the tokens this contract holds: deposits and withdrawals move both by
/// the same amount, and a window's deltas sum to zero.
contract NetSettlement is INetSettlement, AccessControl {
    using SafeERC20 for IERC20;

    /// @inheritdoc INetSettlement
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @inheritdoc INetSettlement
    uint256 public constant MAX_ACCOUNTS_PER_WINDOW = 1024;

    /// @inheritdoc INetSettlement
    uint256 public constant MAX_DELTA = (1 << 95) - 1;

    /// @notice The longest withdrawal delay the constructor accepts: thirty days.
    uint64 public constant MAX_WITHDRAWAL_DELAY_SECONDS = 30 days;

    /// @dev A packed change: the debit flag, and the magnitude below it. The account is the word
    /// shifted right by `_ACCOUNT_SHIFT`.
    uint256 private constant _DEBIT_FLAG = 1 << 95;
    uint256 private constant _ACCOUNT_SHIFT = 96;

    /// @dev An account's state word: the balance in bits 0-127, the pending withdrawal's
    /// `availableAt` in bits 128-191 (zero when none is pending), the open flag in bit 192.
    /// A balance at most `_BALANCE_MASK` never carries into the fields above it.
    uint256 private constant _BALANCE_MASK = type(uint128).max;
    uint256 private constant _AVAILABLE_AT_SHIFT = 128;
    uint256 private constant _AVAILABLE_AT_MASK = uint256(type(uint64).max) << 128;
    uint256 private constant _OPEN_FLAG = 1 << 192;

    IERC20 private immutable _token;
    uint64 private immutable _withdrawalDelaySeconds;

    mapping(address account => uint256 state) private _states;
    /// @dev Only withdrawal requests touch this word, never a window.
    mapping(address account => uint256 amount) private _withdrawalAmounts;
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

    // ---------------------------------------------------------------- deposits and accounts

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
        uint256 state = _states[account];
        uint256 balance = state & _BALANCE_MASK;
        if (amount > _BALANCE_MASK - balance) revert BalanceOutOfRange(account, balance, amount);
        // Cannot carry into the fields above the balance: balance + amount <= _BALANCE_MASK.
        _states[account] = (state + amount) | _OPEN_FLAG;
        emit Deposited(account, amount);

        IERC3009(address(_token))
            .receiveWithAuthorization(account, address(this), amount, validAfter, validBefore, nonce, signature);
    }

    /// @inheritdoc INetSettlement
    function openAccounts(address[] calldata accounts) external {
        uint256 openedCount = 0;
        uint256 accountCount = accounts.length;
        for (uint256 i = 0; i < accountCount; ++i) {
            address account = accounts[i];
            if (account == address(0)) revert ZeroAddress();
            uint256 state = _states[account];
            if (state & _OPEN_FLAG != 0) continue;
            _states[account] = state | _OPEN_FLAG;
            // Cannot overflow: at most one per calldata entry.
            unchecked {
                ++openedCount;
            }
        }
        emit AccountsOpened(openedCount);
    }

    // ---------------------------------------------------------------- settlement

    /// @inheritdoc INetSettlement
    function settleWindow(uint64 windowId, bytes32 paymentsRoot, uint32 paymentCount, bytes32[] calldata changes)
        external
        onlyRole(OPERATOR_ROLE)
    {
        uint64 expectedWindowId = _nextWindowId;
        if (windowId != expectedWindowId) revert WindowOutOfOrder(windowId, expectedWindowId);
        uint256 accountCount = changes.length;
        if (accountCount > MAX_ACCOUNTS_PER_WINDOW) revert TooManyAccounts(accountCount, MAX_ACCOUNTS_PER_WINDOW);
        if (!_isConsistentWindow(paymentsRoot, paymentCount, accountCount)) {
            revert InconsistentWindow(paymentsRoot, paymentCount, accountCount);
        }

        _nextWindowId = expectedWindowId + 1;
        if (paymentsRoot != bytes32(0)) _windowRoots[windowId] = paymentsRoot;
        _applyChanges(changes);
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
        uint256 state = _states[msg.sender];
        _states[msg.sender] = (state & ~_AVAILABLE_AT_MASK) | (uint256(availableAt) << _AVAILABLE_AT_SHIFT);
        _withdrawalAmounts[msg.sender] = amount;
        emit WithdrawalRequested(msg.sender, amount, availableAt);
    }

    /// @inheritdoc INetSettlement
    function withdraw() external {
        uint256 state = _states[msg.sender];
        uint64 availableAt = _availableAt(state);
        // Zero is the field's "no withdrawal requested", not an amount anyone can move.
        // slither-disable-next-line incorrect-equality
        if (availableAt == 0) revert WithdrawalNotRequested(msg.sender);
        if (block.timestamp < availableAt) revert WithdrawalNotReady(msg.sender, availableAt, block.timestamp);

        uint256 requested = _withdrawalAmounts[msg.sender];
        uint256 balance = state & _BALANCE_MASK;
        uint256 amount = requested < balance ? requested : balance;
        delete _withdrawalAmounts[msg.sender];
        // Cannot underflow: amount <= balance by its definition just above, and the balance is
        // the word's lowest field.
        unchecked {
            _states[msg.sender] = _emptiedClosed((state & ~_AVAILABLE_AT_MASK) - amount, amount);
        }
        emit Withdrawn(msg.sender, amount);

        _token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc INetSettlement
    function balanceOf(address account) external view returns (uint256) {
        return _states[account] & _BALANCE_MASK;
    }

    /// @inheritdoc INetSettlement
    function isOpen(address account) external view returns (bool) {
        return _states[account] & _OPEN_FLAG != 0;
    }

    /// @inheritdoc INetSettlement
    function withdrawalRequest(address account) external view returns (uint256 amount, uint64 availableAt) {
        return (_withdrawalAmounts[account], _availableAt(_states[account]));
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

    /// @dev Applies every packed change, then checks that they summed to zero; any failed check
    /// reverts the whole window. Strictly ascending accounts make duplicates impossible at the
    /// cost of one comparison each. Each account's state word is read once and written once.
    function _applyChanges(bytes32[] calldata changes) private {
        uint256 credits = 0;
        uint256 debits = 0;
        // Starting from the zero address also rejects the zero address as the first account.
        address previous = address(0);
        uint256 accountCount = changes.length;
        for (uint256 i = 0; i < accountCount; ++i) {
            uint256 change = uint256(changes[i]);
            // Cannot lose data: the shift leaves exactly the 160 bits the account was packed into.
            // forge-lint: disable-next-line(unsafe-typecast)
            address account = address(uint160(change >> _ACCOUNT_SHIFT));
            if (account <= previous) revert AccountsNotAscending(i, previous, account);
            previous = account;
            uint256 magnitude = change & MAX_DELTA;

            uint256 state = _states[account];
            uint256 balance = state & _BALANCE_MASK;
            if (change & _DEBIT_FLAG != 0) {
                if (magnitude > balance) revert NetChangeExceedsDeposit(account, balance, -int256(magnitude));
                // Cannot underflow: magnitude <= balance, the word's lowest field. The sums cannot
                // overflow: at most MAX_ACCOUNTS_PER_WINDOW terms below 2**95 each.
                unchecked {
                    _states[account] = _emptiedClosed(state - magnitude, magnitude);
                    debits += magnitude;
                }
            } else {
                if (magnitude > _BALANCE_MASK - balance) revert BalanceOutOfRange(account, balance, magnitude);
                // Cannot carry into the fields above the balance: balance + magnitude fits 128
                // bits. Crediting opens the account, in the same write.
                unchecked {
                    _states[account] = (state + magnitude) | _OPEN_FLAG;
                    credits += magnitude;
                }
            }
        }
        // Cannot overflow: both sums are below 2**105.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (credits != debits) revert DeltasDoNotSumToZero(int256(credits) - int256(debits));
    }

    /// @dev `state` after a debit or withdrawal of `amount`: closed if that emptied it, so an
    /// account without balance or pending withdrawal frees its word (and the gas refund of doing
    /// so goes to the transaction that emptied it), as an account never opened holds nothing.
    function _emptiedClosed(uint256 state, uint256 amount) private pure returns (uint256) {
        // The contract's own book, which only its windows and withdrawals change.
        // slither-disable-next-line incorrect-equality
        if (amount != 0 && state & _BALANCE_MASK == 0) return state & ~_OPEN_FLAG;
        return state;
    }

    function _availableAt(uint256 state) private pure returns (uint64) {
        // Cannot lose data: the mask keeps exactly the 64 bits the time was packed into.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64((state & _AVAILABLE_AT_MASK) >> _AVAILABLE_AT_SHIFT);
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
