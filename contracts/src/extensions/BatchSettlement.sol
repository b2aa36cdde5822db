// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";

import {IBatchSettlement} from "../interfaces/IBatchSettlement.sol";
import {FlaggedBalances} from "./FlaggedBalances.sol";

/// @title BatchSettlement
/// @notice Settles batches of signed payments inside the token. See {IBatchSettlement}.
/// @dev The cost of a payment is dominated by work no design avoids: one `ecrecover`, one
/// `Transfer` log and its signature's calldata. Everything else is kept off the per-payment path:
/// pause is checked once per batch; every listed account's word (balance and blocklist flag, see
/// {FlaggedBalances}) is read once into memory, moved there payment by payment, and written back
/// once if it changed; each payer's nonce word is held in memory the same way. No storage is
/// written while the batch runs and nothing outside the token is called (`ecrecover` is a
/// precompile), so deferring the writes changes nothing another contract could see. An account
/// listed twice would have two memory copies, so it reverts the batch; transient storage marks
/// the accounts seen, and is cleared before returning.
abstract contract BatchSettlement is IBatchSettlement, FlaggedBalances, EIP712, Pausable {
    using SlotDerivation for bytes32;

    /// @notice The EIP-712 typehash of a batch payment; distinct from EIP-3009's typehashes.
    bytes32 public constant BATCH_PAYMENT_TYPEHASH =
        keccak256("BatchPayment(address from,address to,uint256 value,uint256 nonce,uint256 validBefore)");

    /// @notice The most payments one batch may hold. The block gas limit bounds a batch first; this
    /// bounds the loop and the memory a call may use.
    uint256 public constant MAX_BATCH_SIZE = 5_000;

    /// @notice The most accounts one batch may list: a payer and a payee for every payment.
    uint256 public constant MAX_BATCH_ACCOUNTS = 2 * MAX_BATCH_SIZE;

    /// @notice The bytes of one packed payment (see {IBatchSettlement}).
    uint256 public constant PACKED_PAYMENT_BYTES = 96;

    uint256 private constant _INDEX_MASK = (1 << 16) - 1;
    uint256 private constant _VALUE_MASK = (1 << 96) - 1;
    uint256 private constant _NONCE_MASK = (1 << 88) - 1;
    uint256 private constant _VALID_BEFORE_MASK = (1 << 40) - 1;
    /// @dev ERC-20's `Transfer(address,address,uint256)` event topic, logged directly by {_move}.
    bytes32 private constant _TRANSFER_TOPIC = keccak256("Transfer(address,address,uint256)");
    /// @dev secp256k1's group order halved: a larger `s` is the malleable twin of a valid one.
    uint256 private constant _HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(address owner => mapping(uint256 word => uint256 bitmap)) private _batchNonceBitmaps;

    /// @dev The batch's accounts in memory, by index: each account's word as read and as it stands,
    /// and the one nonce word of its own it holds (`nonceKeys`: word + 1, or 0 for none) as read
    /// and as it stands.
    struct Ledger {
        uint256[] loaded;
        uint256[] words;
        uint256[] nonceKeys;
        uint256[] nonceLoaded;
        uint256[] nonceBits;
    }

    /// @dev One payment unpacked; `from` and `to` are known once the indexes are checked.
    struct Payment {
        uint256 fromIndex;
        uint256 toIndex;
        address from;
        address to;
        uint256 value;
        uint256 nonce;
        uint256 validBefore;
        bytes32 r;
        bytes32 vs;
    }

    /// @inheritdoc IBatchSettlement
    function settleBatch(address[] calldata accounts, bytes calldata payments) external returns (uint256 settledCount) {
        _requireNotPaused();
        uint256 count = payments.length / PACKED_PAYMENT_BYTES;
        if (payments.length % PACKED_PAYMENT_BYTES != 0) revert MalformedBatch(payments.length);
        if (count > MAX_BATCH_SIZE) revert BatchTooLarge(count, MAX_BATCH_SIZE);
        if (accounts.length > MAX_BATCH_ACCOUNTS) revert BatchTooLarge(accounts.length, MAX_BATCH_ACCOUNTS);

        Ledger memory ledger = _load(accounts);
        bytes32 domainSeparator = _domainSeparatorV4();
        // One struct for every payment: a fresh one each would grow memory, whose cost is
        // quadratic, with the size of the batch. `_unpack` writes every field before each use.
        // slither-disable-next-line uninitialized-local
        Payment memory payment;
        for (uint256 i = 0; i < count; ++i) {
            _unpack(accounts, payments, i, payment);
            (bool settled, SkipReason reason) = _trySettle(ledger, domainSeparator, payment);
            if (settled) {
                // Cannot overflow: at most one increment per payment, and payments are bounded.
                unchecked {
                    ++settledCount;
                }
            } else {
                emit BatchPaymentSkipped(i, payment.from, payment.nonce, reason);
            }
        }
        _store(accounts, ledger);
        // Cannot underflow: settledCount counts a subset of the payments.
        unchecked {
            emit BatchSettled(_msgSender(), settledCount, count - settledCount);
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

    /// @dev Every account's word into memory, once. Reading `accounts[i]` through the decoder
    /// rejects a malformed address here, which lets {_accountAt} read entries without checks.
    function _load(address[] calldata accounts) private returns (Ledger memory ledger) {
        uint256 n = accounts.length;
        ledger = Ledger(new uint256[](n), new uint256[](n), new uint256[](n), new uint256[](n), new uint256[](n));
        for (uint256 i = 0; i < n; ++i) {
            bytes32 slot = _accountWordSlot(accounts[i]);
            uint256 word;
            bool seen;
            assembly ("memory-safe") {
                seen := tload(slot)
                tstore(slot, 1)
                word := sload(slot)
            }
            if (seen) revert DuplicateAccount(i);
            _put(ledger.loaded, i, word);
            _put(ledger.words, i, word);
        }
    }

    /// @dev The words and nonce words that changed back into storage; the marks of {_load} cleared.
    function _store(address[] calldata accounts, Ledger memory ledger) private {
        for (uint256 i = 0; i < accounts.length; ++i) {
            address account = _accountAt(accounts, i);
            bytes32 slot = _accountWordSlot(account);
            uint256 word = _at(ledger.words, i);
            bool changed = word != _at(ledger.loaded, i);
            assembly ("memory-safe") {
                tstore(slot, 0)
                if changed { sstore(slot, word) }
            }
            _storeNonceWord(ledger, account, i);
        }
    }

    /// @dev The payment at `index` of the packed `payments`, into `payment` (see {Payment} for the
    /// places its fields have in memory). An index outside `accounts` leaves its address zero.
    function _unpack(address[] calldata accounts, bytes calldata payments, uint256 index, Payment memory payment)
        private
        pure
    {
        assembly ("memory-safe") {
            let at := add(payments.offset, mul(index, 96))
            let head := calldataload(at)
            let fromIndex := shr(240, head)
            let toIndex := and(shr(224, head), _INDEX_MASK)
            let from := 0
            let to := 0
            if lt(fromIndex, accounts.length) { from := calldataload(add(accounts.offset, shl(5, fromIndex))) }
            if lt(toIndex, accounts.length) { to := calldataload(add(accounts.offset, shl(5, toIndex))) }
            mstore(payment, fromIndex)
            mstore(add(payment, 0x20), toIndex)
            mstore(add(payment, 0x40), from)
            mstore(add(payment, 0x60), to)
            mstore(add(payment, 0x80), and(shr(128, head), _VALUE_MASK))
            mstore(add(payment, 0xa0), and(shr(40, head), _NONCE_MASK))
            mstore(add(payment, 0xc0), and(head, _VALID_BEFORE_MASK))
            calldatacopy(add(payment, 0xe0), add(at, 0x20), 0x40) // r, vs
        }
    }

    /// @dev Checks the payment in {IBatchSettlement.settleBatch}'s order and, if every check passes,
    /// moves its value and spends its nonce in memory and logs the transfer; `reason` when it did
    /// not. The nonce is spent only together with the transfer, so a skipped payment can still
    /// settle later.
    function _trySettle(Ledger memory ledger, bytes32 domainSeparator, Payment memory payment)
        private
        returns (bool settled, SkipReason reason)
    {
        if (payment.from == address(0) || payment.to == address(0)) {
            return (false, SkipReason.InvalidAccountIndex);
        }
        if (block.timestamp >= payment.validBefore) return (false, SkipReason.Expired);
        if (_eitherBlocklisted(ledger, payment)) return (false, SkipReason.AccountBlocklisted);
        _holdNonceWord(ledger, payment);
        if (_nonceSpent(ledger, payment)) return (false, SkipReason.NonceAlreadyUsed);
        if (!_isSigned(domainSeparator, payment)) return (false, SkipReason.InvalidSignature);
        if (!_move(ledger, payment)) return (false, SkipReason.InsufficientBalance);
        return (true, reason);
    }

    /// @dev Whether the payer's or the payee's word carries the blocklist flag.
    function _eitherBlocklisted(Ledger memory ledger, Payment memory payment) private pure returns (bool blocked) {
        uint256[] memory words = ledger.words;
        assembly ("memory-safe") {
            let fromWord := mload(add(add(words, 0x20), shl(5, mload(payment))))
            let toWord := mload(add(add(words, 0x20), shl(5, mload(add(payment, 0x20)))))
            blocked := shr(255, or(fromWord, toWord))
        }
    }

    /// @dev Whether the payment's nonce bit is set in the payer's nonce word held in memory.
    function _nonceSpent(Ledger memory ledger, Payment memory payment) private pure returns (bool spent) {
        uint256[] memory nonceBits = ledger.nonceBits;
        assembly ("memory-safe") {
            let bits := mload(add(add(nonceBits, 0x20), shl(5, mload(payment))))
            spent := and(shr(and(mload(add(payment, 0xa0)), 0xff), bits), 1)
        }
    }

    /// @dev If the payer holds enough: its value from the payer's word to the payee's, its nonce bit
    /// set, and the ERC-20 `Transfer` logged. Cannot underflow: value <= balance, the payer's flag
    /// being clear. Cannot reach the payee's flag: balance + value is at most the supply, itself at
    /// most MAX_SUPPLY. The payee's word is read after the payer's is written, since they are the
    /// same word when a payer pays itself.
    function _move(Ledger memory ledger, Payment memory payment) private returns (bool moved) {
        uint256[] memory words = ledger.words;
        uint256[] memory nonceBits = ledger.nonceBits;
        bytes32 transferTopic = _TRANSFER_TOPIC;
        // Shifting the one bit into place is intended, not a reversed shift.
        // forge-lint: disable-next-line(incorrect-shift)
        uint256 bit = 1 << (payment.nonce & 0xff);
        assembly ("memory-safe") {
            let fromIndex := mload(payment)
            let value := mload(add(payment, 0x80))
            let fromAt := add(add(words, 0x20), shl(5, fromIndex))
            let fromWord := mload(fromAt)
            if iszero(lt(fromWord, value)) {
                mstore(fromAt, sub(fromWord, value))
                let toAt := add(add(words, 0x20), shl(5, mload(add(payment, 0x20))))
                mstore(toAt, add(mload(toAt), value))
                let bitsAt := add(add(nonceBits, 0x20), shl(5, fromIndex))
                mstore(bitsAt, or(mload(bitsAt), bit))
                mstore(0x00, value)
                log3(0x00, 0x20, transferTopic, mload(add(payment, 0x40)), mload(add(payment, 0x60)))
                moved := 1
            }
        }
    }

    /// @dev Makes the payer hold its nonce word of the payment in memory, read from storage the first
    /// time a payment needs it; a payer whose payments move to another word writes the one it held
    /// back first.
    function _holdNonceWord(Ledger memory ledger, Payment memory payment) private {
        uint256 index = payment.fromIndex;
        uint256 word = payment.nonce >> 8;
        if (_at(ledger.nonceKeys, index) == word + 1) return;
        _storeNonceWord(ledger, payment.from, index);
        uint256 bits = _batchNonceBitmaps[payment.from][word];
        _put(ledger.nonceKeys, index, word + 1);
        _put(ledger.nonceLoaded, index, bits);
        _put(ledger.nonceBits, index, bits);
    }

    /// @dev The nonce word account `index` holds, back into storage if it changed.
    function _storeNonceWord(Ledger memory ledger, address payer, uint256 index) private {
        uint256 key = _at(ledger.nonceKeys, index);
        uint256 bits = _at(ledger.nonceBits, index);
        if (key != 0 && bits != _at(ledger.nonceLoaded, index)) {
            _batchNonceBitmaps[payer][key - 1] = bits;
            _put(ledger.nonceLoaded, index, bits);
        }
    }

    /// @dev Whether the payer signed the payment: the EIP-712 digest of its `BatchPayment` message
    /// and `ecrecover`, in one block over scratch memory. This is OpenZeppelin's `ECDSA.tryRecover`
    /// with its checks kept (a high `s` is refused; a failed recovery returns nothing, never the
    /// payer, who is never the zero address) and its allocations left out, which cost a payment
    /// about 900 gas. The fields are read by their place in {Payment}.
    function _isSigned(bytes32 domainSeparator, Payment memory payment) private view returns (bool signed) {
        bytes32 typehash = BATCH_PAYMENT_TYPEHASH;
        uint256 halfOrder = _HALF_CURVE_ORDER;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            mcopy(add(ptr, 0x20), add(payment, 0x40), 0xa0) // from, to, value, nonce, validBefore
            let structHash := keccak256(ptr, 0xc0)
            mstore(ptr, shl(240, 0x1901))
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            let digest := keccak256(ptr, 0x42)
            let vs := mload(add(payment, 0x100))
            let s := and(vs, not(shl(255, 1)))
            if iszero(gt(s, halfOrder)) {
                mstore(ptr, digest)
                mstore(add(ptr, 0x20), add(shr(255, vs), 27))
                mstore(add(ptr, 0x40), mload(add(payment, 0xe0)))
                mstore(add(ptr, 0x60), s)
                mstore(0x00, 0)
                let called := staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20)
                signed := and(called, eq(mload(0x00), mload(add(payment, 0x40))))
            }
        }
    }

    /// @dev `accounts[index]` without the decoder's checks, which cost more than the rest of a
    /// payment's account checks together. The caller has checked `index < accounts.length`, and
    /// {_load} has already read every entry through the decoder.
    function _accountAt(address[] calldata accounts, uint256 index) private pure returns (address account) {
        assembly ("memory-safe") {
            account := calldataload(add(accounts.offset, shl(5, index)))
        }
    }

    /// @dev `values[index]` without the bounds check: every index used is below the number of
    /// accounts, the length of every ledger array.
    function _at(uint256[] memory values, uint256 index) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := mload(add(add(values, 0x20), shl(5, index)))
        }
    }

    /// @dev `values[index] = value` without the bounds check (see {_at}).
    function _put(uint256[] memory values, uint256 index, uint256 value) private pure {
        assembly ("memory-safe") {
            mstore(add(add(values, 0x20), shl(5, index)), value)
        }
    }
}
