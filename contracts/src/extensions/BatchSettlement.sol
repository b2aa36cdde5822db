// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";
import {StorageSlot} from "@openzeppelin/contracts/utils/StorageSlot.sol";

import {IBatchSettlement} from "../interfaces/IBatchSettlement.sol";

/// @title BatchSettlement
/// @notice Settles batches of signed payments inside the token. See {IBatchSettlement}.
/// @dev The cost of a payment is dominated by work no design avoids: one `ecrecover`, one
/// `Transfer` log and the payer's and payee's balance slots. Everything else is kept off the
/// per-payment path: pause is checked once per batch, each account's blocklist entry is read once
/// per batch into a memory bitmap, hashing reuses scratch memory, and balances move through
/// OpenZeppelin's `ERC20._update` directly, since the checks a derived `_update` adds (pause,
/// blocklist) were already made here, and made so that a failure skips instead of reverting.
abstract contract BatchSettlement is IBatchSettlement, ERC20, EIP712, Pausable {
    using SlotDerivation for bytes32;
    using StorageSlot for bytes32;

    /// @notice The EIP-712 typehash of a batch payment; distinct from EIP-3009's typehashes.
    bytes32 public constant BATCH_PAYMENT_TYPEHASH =
        keccak256("BatchPayment(address from,address to,uint256 value,uint256 nonce,uint256 validBefore)");

    /// @notice The most payments one batch may hold. A full batch needs about 50M gas, so in practice
    /// the block gas limit bounds a batch first; this bounds the loop and the memory a call may use.
    uint256 public constant MAX_BATCH_SIZE = 5_000;

    /// @notice The most accounts one batch may list: a payer and a payee for every payment.
    uint256 public constant MAX_BATCH_ACCOUNTS = 2 * MAX_BATCH_SIZE;

    mapping(address owner => mapping(uint256 word => uint256 bitmap)) private _batchNonceBitmaps;

    /// @inheritdoc IBatchSettlement
    function settleBatch(address[] calldata accounts, BatchPayment[] calldata payments)
        external
        returns (uint256 settledCount)
    {
        _requireNotPaused();
        if (payments.length > MAX_BATCH_SIZE) revert BatchTooLarge(payments.length, MAX_BATCH_SIZE);
        if (accounts.length > MAX_BATCH_ACCOUNTS) revert BatchTooLarge(accounts.length, MAX_BATCH_ACCOUNTS);

        uint256[] memory blockedAccounts = _blockedAccounts(accounts);
        bytes32 domainSeparator = _domainSeparatorV4();
        for (uint256 i = 0; i < payments.length; ++i) {
            BatchPayment calldata payment = payments[i];
            (address from, address to, bool valid, SkipReason reason) =
                _resolveAccounts(accounts, blockedAccounts, payment);
            // Left at its zero value on purpose: false unless `_trySettle` ran and settled. An explicit
            // `= false` costs 6 gas per payment here (docs/slither.md).
            // slither-disable-next-line uninitialized-local
            bool settled;
            if (valid) (settled, reason) = _trySettle(from, to, domainSeparator, payment);
            if (settled) {
                // Cannot overflow: at most one increment per payment, and payments are bounded.
                unchecked {
                    ++settledCount;
                }
            } else {
                emit BatchPaymentSkipped(i, from, payment.nonce, reason);
            }
        }
        // Cannot underflow: settledCount counts a subset of the payments.
        unchecked {
            emit BatchSettled(_msgSender(), settledCount, payments.length - settledCount);
        }
    }

    /// @inheritdoc IBatchSettlement
    function cancelBatchNonces(uint256 word, uint256 mask) external {
        address owner = _msgSender();
        _batchNonceBitmaps[owner][word] |= mask;
        emit BatchNoncesCancelled(owner, word, mask);
    }

    /// @inheritdoc IBatchSettlement
    function batchNonceUsed(address owner, uint256 nonce) external view returns (bool) {
        return (_batchNonceBitmaps[owner][nonce >> 8] >> (nonce & 0xff)) & 1 == 1;
    }

    /// @inheritdoc IBatchSettlement
    function batchNonceBitmap(address owner, uint256 word) external view returns (uint256) {
        return _batchNonceBitmaps[owner][word];
    }

    /// @dev Whether `account` may neither send nor receive; payments touching it are skipped.
    function _isBlocklisted(address account) internal view virtual returns (bool);

    /// @dev Bit `i` is set when `accounts[i]` is blocklisted. Reading every entry once here costs one
    /// storage read per account instead of two per payment. Reading `accounts[i]` in Solidity also
    /// rejects a malformed address once, which lets {_accountAt} read entries without checks.
    function _blockedAccounts(address[] calldata accounts) private view returns (uint256[] memory bitmap) {
        bitmap = new uint256[]((accounts.length + 255) >> 8);
        for (uint256 i = 0; i < accounts.length; ++i) {
            // Shifting the one bit into place is intended, not a reversed shift.
            // forge-lint: disable-next-line(incorrect-shift)
            if (_isBlocklisted(accounts[i])) bitmap[i >> 8] |= 1 << (i & 0xff);
        }
    }

    /// @dev The checks that need no storage: account indexes, expiry and the blocklist bitmap.
    /// `valid` is false when `reason` applies; `from` is known once `fromIndex` is in range.
    function _resolveAccounts(
        address[] calldata accounts,
        uint256[] memory blockedAccounts,
        BatchPayment calldata payment
    ) private view returns (address from, address to, bool valid, SkipReason reason) {
        (uint256 fromIndex, uint256 toIndex) = _indexesOf(payment);
        if (fromIndex >= accounts.length) return (from, to, false, SkipReason.InvalidAccountIndex);
        from = _accountAt(accounts, fromIndex);
        if (toIndex >= accounts.length) return (from, to, false, SkipReason.InvalidAccountIndex);
        to = _accountAt(accounts, toIndex);
        if (from == address(0) || to == address(0)) return (from, to, false, SkipReason.InvalidAccountIndex);
        if (block.timestamp >= payment.validBefore) return (from, to, false, SkipReason.Expired);
        if (_isBitSet(blockedAccounts, fromIndex) || _isBitSet(blockedAccounts, toIndex)) {
            return (from, to, false, SkipReason.AccountBlocklisted);
        }
        return (from, to, true, reason);
    }

    /// @dev The checks against storage and the signature, then the transfer. The nonce is spent
    /// only together with the transfer, so a skipped payment can still settle later.
    function _trySettle(address from, address to, bytes32 domainSeparator, BatchPayment calldata payment)
        private
        returns (bool settled, SkipReason reason)
    {
        uint256 nonce = payment.nonce;
        StorageSlot.Uint256Slot storage nonceWord = _batchNonceWord(from, nonce >> 8);
        uint256 bitmap = nonceWord.value;
        // Shifting the one bit into place is intended, not a reversed shift.
        // forge-lint: disable-next-line(incorrect-shift)
        uint256 bit = 1 << (nonce & 0xff);
        if (bitmap & bit != 0) return (false, SkipReason.NonceAlreadyUsed);
        if (!_isSignedBy(from, to, domainSeparator, payment)) return (false, SkipReason.InvalidSignature);
        uint256 value = payment.value;
        if (balanceOf(from) < value) return (false, SkipReason.InsufficientBalance);

        nonceWord.value = bitmap | bit;
        ERC20._update(from, to, value);
        return (true, reason);
    }

    /// @dev ECDSA only: `tryRecover` rejects a high `s` and never returns the zero address without
    /// an error, and `from` is never zero here.
    function _isSignedBy(address from, address to, bytes32 domainSeparator, BatchPayment calldata payment)
        private
        pure
        returns (bool)
    {
        bytes32 structHash = _batchPaymentStructHash(from, to, payment.value, payment.nonce, payment.validBefore);
        bytes32 digest = MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
        // The third value only details an error, and `error` is checked (docs/slither.md).
        // slither-disable-next-line unused-return
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, payment.r, payment.vs);
        return error == ECDSA.RecoverError.NoError && signer == from;
    }

    /// @dev `keccak256(abi.encode(BATCH_PAYMENT_TYPEHASH, from, to, value, nonce, validBefore))`,
    /// built in the free memory without allocating it: `abi.encode` would allocate for every
    /// payment, and memory cost grows quadratically with the size of a batch.
    function _batchPaymentStructHash(address from, address to, uint256 value, uint256 nonce, uint256 validBefore)
        private
        pure
        returns (bytes32 structHash)
    {
        bytes32 typehash = BATCH_PAYMENT_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), and(from, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(ptr, 0x40), and(to, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(ptr, 0x60), value)
            mstore(add(ptr, 0x80), nonce)
            mstore(add(ptr, 0xa0), validBefore)
            structHash := keccak256(ptr, 0xc0)
        }
    }

    /// @dev `_batchNonceBitmaps[owner][word]` as a slot, so that checking and then spending a nonce
    /// hashes the mapping keys once instead of twice.
    function _batchNonceWord(address owner, uint256 word) private pure returns (StorageSlot.Uint256Slot storage) {
        bytes32 mappingSlot;
        assembly ("memory-safe") {
            mappingSlot := _batchNonceBitmaps.slot
        }
        return mappingSlot.deriveMapping(owner).deriveMapping(word).getUint256Slot();
    }

    /// @dev The payer and payee indexes as raw words rather than through the ABI decoder: an index
    /// with dirty upper bits is then merely out of range, and its payment is skipped instead of the
    /// decoder reverting the whole batch.
    function _indexesOf(BatchPayment calldata payment) private pure returns (uint256 fromIndex, uint256 toIndex) {
        assembly ("memory-safe") {
            fromIndex := calldataload(payment)
            toIndex := calldataload(add(payment, 0x20))
        }
    }

    /// @dev `accounts[index]` without the decoder's checks, which cost more than the rest of a
    /// payment's account checks together. The caller has checked `index < accounts.length`, and
    /// {_blockedAccounts} has already read every entry through the decoder.
    function _accountAt(address[] calldata accounts, uint256 index) private pure returns (address account) {
        assembly ("memory-safe") {
            account := calldataload(add(accounts.offset, shl(5, index)))
        }
    }

    /// @dev Bit `index` of `bitmap`. The caller has checked that `index` is below the number of bits
    /// the bitmap was allocated for, so the array bounds check is left out.
    function _isBitSet(uint256[] memory bitmap, uint256 index) private pure returns (bool isSet) {
        assembly ("memory-safe") {
            let word := mload(add(add(bitmap, 0x20), shl(5, shr(8, index))))
            isSet := and(shr(and(index, 0xff), word), 1)
        }
    }
}
