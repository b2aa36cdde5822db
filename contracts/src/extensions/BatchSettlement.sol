// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IBatchSettlement} from "../interfaces/IBatchSettlement.sol";
import {FlaggedBalances} from "./FlaggedBalances.sol";

/// @title BatchSettlement
/// @notice Settles batches of signed payments inside the token. See {IBatchSettlement}.
/// @dev The cost of a payment is dominated by work no design avoids: one `ecrecover`, one
/// `Transfer` log and its signature's calldata. Everything else is kept off the per-payment path:
/// pause is checked once per batch; every listed account's word (balance and blocklist flag, see
/// {FlaggedBalances}) is read once into a memory ledger, moved there payment by payment, and
/// written back once if it changed; each payer's nonce word is held in the ledger the same way.
/// No storage is written while the batch runs and nothing outside the token is called
/// (`ecrecover` is a precompile), so deferring the writes changes nothing another contract could
/// see. An account listed twice would have two ledger entries, so it reverts the batch; transient
/// storage marks the accounts seen, and is cleared before returning.
///
/// The loop over payments is one assembly block ({_settle}): written in Solidity with small helpers
/// its unpacking, checks and ledger moves cost about 1,470 gas a payment, against a floor of about
/// 6,300 for the signature, the log and the calldata. Its functions keep Solidity's shape: one
/// check each, in {IBatchSettlement.settleBatch}'s order.
abstract contract BatchSettlement is IBatchSettlement, FlaggedBalances, EIP712, Pausable {
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
    /// @dev ERC-20's `Transfer(address,address,uint256)` event topic, logged directly by {_settle}.
    bytes32 private constant _TRANSFER_TOPIC = keccak256("Transfer(address,address,uint256)");
    /// @dev secp256k1's group order halved: a larger `s` is the malleable twin of a valid one.
    uint256 private constant _HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @dev The ledger is one entry per listed account, in list order, of these words: the account's
    /// word as read and as it stands; the nonce word it holds (its number + 1, or 0 for none), as
    /// read and as it stands; its address; its word's storage slot.
    uint256 private constant _ENTRY_BYTES = 0xe0;
    uint256 private constant _LOADED = 0x00;
    uint256 private constant _WORD = 0x20;
    uint256 private constant _NONCE_KEY = 0x40;
    uint256 private constant _NONCE_LOADED = 0x60;
    uint256 private constant _NONCE_BITS = 0x80;
    uint256 private constant _ACCOUNT = 0xa0;
    uint256 private constant _SLOT = 0xc0;

    /// @dev {_settle}'s working memory, past the free memory pointer: the `BatchPayment` message
    /// being checked (typehash, from, to, value, nonce, validBefore), the digest's preimage
    /// ("\x19\x01", domain separator, message hash), `ecrecover`'s input (digest, v, r, s), and
    /// what every payment reads: the ledger, the number of accounts, the nonce mapping's slot, the
    /// two event topics, where the payments start, and an empty ledger entry.
    uint256 private constant _FROM = 0x20;
    uint256 private constant _TO = 0x40;
    uint256 private constant _VALUE = 0x60;
    uint256 private constant _NONCE = 0x80;
    uint256 private constant _VALID_BEFORE = 0xa0;
    uint256 private constant _MESSAGE_BYTES = 0xc0;
    uint256 private constant _ENVELOPE = 0xc0;
    uint256 private constant _RECOVERY = 0x120;
    uint256 private constant _LEDGER = 0x1a0;
    uint256 private constant _ACCOUNT_COUNT = 0x1c0;
    uint256 private constant _NONCE_MAPPING = 0x1e0;
    uint256 private constant _TRANSFER = 0x200;
    uint256 private constant _SKIPPED = 0x220;
    uint256 private constant _PAYMENTS = 0x240;
    uint256 private constant _EMPTY_ENTRY = 0x260;

    /// @dev {SkipReason}s by their numbers, for assembly, which cannot read an enum (the unit tests
    /// check every reason a skip reports).
    uint256 private constant _INVALID_SIGNATURE = 0;
    uint256 private constant _NONCE_ALREADY_USED = 1;
    uint256 private constant _EXPIRED = 2;
    uint256 private constant _INSUFFICIENT_BALANCE = 3;
    uint256 private constant _ACCOUNT_BLOCKLISTED = 4;
    uint256 private constant _INVALID_ACCOUNT_INDEX = 5;

    mapping(address owner => mapping(uint256 word => uint256 bitmap)) private _batchNonceBitmaps;

    /// @inheritdoc IBatchSettlement
    function settleBatch(address[] calldata accounts, bytes calldata payments) external returns (uint256 settledCount) {
        _requireNotPaused();
        uint256 count = payments.length / PACKED_PAYMENT_BYTES;
        if (payments.length % PACKED_PAYMENT_BYTES != 0) revert MalformedBatch(payments.length);
        if (count > MAX_BATCH_SIZE) revert BatchTooLarge(count, MAX_BATCH_SIZE);
        if (accounts.length > MAX_BATCH_ACCOUNTS) revert BatchTooLarge(accounts.length, MAX_BATCH_ACCOUNTS);

        settledCount = _settle(accounts.length, payments, _load(accounts));
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

    /// @dev The ledger (see {_ENTRY_BYTES}): every account's word read into memory, once. Reading
    /// `accounts[i]` through the decoder rejects a malformed address here, so {_settle} reads the
    /// addresses from the ledger without checks.
    function _load(address[] calldata accounts) private returns (uint256 ledger) {
        uint256 n = accounts.length;
        assembly ("memory-safe") {
            ledger := mload(0x40)
            mstore(0x40, add(ledger, mul(n, _ENTRY_BYTES)))
        }
        for (uint256 i = 0; i < n; ++i) {
            address account = accounts[i];
            bytes32 slot = _accountWordSlot(account);
            bool seen;
            assembly ("memory-safe") {
                seen := tload(slot)
                tstore(slot, 1)
                let word := sload(slot)
                let entry := add(ledger, mul(i, _ENTRY_BYTES))
                mstore(add(entry, _LOADED), word)
                mstore(add(entry, _WORD), word)
                mstore(add(entry, _NONCE_KEY), 0)
                mstore(add(entry, _NONCE_LOADED), 0)
                mstore(add(entry, _NONCE_BITS), 0)
                mstore(add(entry, _ACCOUNT), account)
                mstore(add(entry, _SLOT), slot)
            }
            if (seen) revert DuplicateAccount(i);
        }
    }

    /// @dev Settles the packed `payments` against the ledger, in order, skipping with an event each
    /// one that fails a check; then writes back the words and nonce words that changed and clears
    /// {_load}'s marks. The loop is written out in the block's body rather than in functions, since
    /// each call and each value passed costs gas on every payment; the values it keeps on the
    /// stack are few enough for the legacy code generator to reach.
    function _settle(uint256 accountCount, bytes calldata payments, uint256 ledger)
        private
        returns (uint256 settledCount)
    {
        uint256 workMemory;
        {
            bytes32 typehash = BATCH_PAYMENT_TYPEHASH;
            bytes32 domainSeparator = _domainSeparatorV4();
            bytes32 transferTopic = _TRANSFER_TOPIC;
            bytes32 skippedTopic = BatchPaymentSkipped.selector;
            assembly ("memory-safe") {
                let work := mload(0x40)
                workMemory := work
                mstore(work, typehash)
                mstore(add(work, _ENVELOPE), shl(240, 0x1901))
                mstore(add(work, add(_ENVELOPE, 0x02)), domainSeparator)
                mstore(add(work, _LEDGER), ledger)
                mstore(add(work, _ACCOUNT_COUNT), accountCount)
                mstore(add(work, _NONCE_MAPPING), _batchNonceBitmaps.slot)
                mstore(add(work, _TRANSFER), transferTopic)
                mstore(add(work, _SKIPPED), skippedTopic)
                mstore(add(work, _PAYMENTS), payments.offset)
                mstore(add(work, add(_EMPTY_ENTRY, _ACCOUNT)), 0)
            }
        }
        assembly ("memory-safe") {
            /// The storage slot of `owner`'s nonce word `word`: `_batchNonceBitmaps[owner][word]`.
            function nonceWordSlot(work, owner, word) -> slot {
                mstore(0x00, owner)
                mstore(0x20, mload(add(work, _NONCE_MAPPING)))
                mstore(0x20, keccak256(0x00, 0x40))
                mstore(0x00, word)
                slot := keccak256(0x00, 0x40)
            }

            /// The nonce word `entry` holds, back into storage if it changed.
            function storeNonceWord(work, entry) {
                let key := mload(add(entry, _NONCE_KEY))
                let bits := mload(add(entry, _NONCE_BITS))
                if and(gt(key, 0), iszero(eq(bits, mload(add(entry, _NONCE_LOADED))))) {
                    sstore(nonceWordSlot(work, mload(add(entry, _ACCOUNT)), sub(key, 1)), bits)
                    mstore(add(entry, _NONCE_LOADED), bits)
                }
            }

            /// Makes the payer `entry` hold nonce word `key - 1`, writing back the one it held.
            function holdNonceWord(work, entry, key) {
                storeNonceWord(work, entry)
                let bits := sload(nonceWordSlot(work, mload(add(entry, _ACCOUNT)), sub(key, 1)))
                mstore(add(entry, _NONCE_KEY), key)
                mstore(add(entry, _NONCE_LOADED), bits)
                mstore(add(entry, _NONCE_BITS), bits)
            }

            /// `BatchPaymentSkipped(index, from, nonce, reason)` for the payment at `at`, whose
            /// payer and nonce are in working memory.
            function skip(work, at, reason) {
                mstore(0x00, mload(add(work, _NONCE)))
                mstore(0x20, reason)
                let index := div(sub(at, mload(add(work, _PAYMENTS))), PACKED_PAYMENT_BYTES)
                log3(0x00, 0x40, mload(add(work, _SKIPPED)), index, mload(add(work, _FROM)))
            }

            /// Every changed word and nonce word back into storage; every mark of {_load} cleared.
            function storeLedger(work) {
                let entry := mload(add(work, _LEDGER))
                let end := add(entry, mul(mload(add(work, _ACCOUNT_COUNT)), _ENTRY_BYTES))
                for {} lt(entry, end) { entry := add(entry, _ENTRY_BYTES) } {
                    let slot := mload(add(entry, _SLOT))
                    let word := mload(add(entry, _WORD))
                    tstore(slot, 0)
                    if iszero(eq(word, mload(add(entry, _LOADED)))) { sstore(slot, word) }
                    storeNonceWord(work, entry)
                }
            }

            // Each payment: its accounts, then the checks in {IBatchSettlement.settleBatch}'s order,
            // each skipping the payment with its reason; then its value moved and its nonce spent in
            // the ledger and the transfer logged. The nonce is spent only together with the
            // transfer, so a skipped payment can still settle later.
            let work := workMemory
            let end := add(payments.offset, payments.length)
            for { let at := payments.offset } lt(at, end) { at := add(at, PACKED_PAYMENT_BYTES) } {
                let head := calldataload(at)
                // An index outside the accounts names the empty entry, whose address is zero.
                let payer := add(work, _EMPTY_ENTRY)
                let payee := payer
                {
                    let entries := mload(add(work, _LEDGER))
                    let count := mload(add(work, _ACCOUNT_COUNT))
                    let index := shr(240, head)
                    if lt(index, count) { payer := add(entries, mul(index, _ENTRY_BYTES)) }
                    index := and(shr(224, head), _INDEX_MASK)
                    if lt(index, count) { payee := add(entries, mul(index, _ENTRY_BYTES)) }
                }
                let from := mload(add(payer, _ACCOUNT))
                let to := mload(add(payee, _ACCOUNT))
                mstore(add(work, _FROM), from)
                mstore(add(work, _TO), to)
                mstore(add(work, _NONCE), and(shr(40, head), _NONCE_MASK))
                if or(iszero(from), iszero(to)) {
                    skip(work, at, _INVALID_ACCOUNT_INDEX)
                    continue
                }
                {
                    let validBefore := and(head, _VALID_BEFORE_MASK)
                    if iszero(lt(timestamp(), validBefore)) {
                        skip(work, at, _EXPIRED)
                        continue
                    }
                    mstore(add(work, _VALID_BEFORE), validBefore)
                }
                if shr(255, or(mload(add(payer, _WORD)), mload(add(payee, _WORD)))) {
                    skip(work, at, _ACCOUNT_BLOCKLISTED)
                    continue
                }
                let bit := 0
                {
                    let nonce := and(shr(40, head), _NONCE_MASK)
                    let key := add(shr(8, nonce), 1)
                    if iszero(eq(mload(add(payer, _NONCE_KEY)), key)) { holdNonceWord(work, payer, key) }
                    // Yul's shl takes the shift first: this is the nonce's one bit (docs/slither.md, 9).
                    // slither-disable-next-line incorrect-shift
                    bit := shl(and(nonce, 0xff), 1)
                }
                if and(mload(add(payer, _NONCE_BITS)), bit) {
                    skip(work, at, _NONCE_ALREADY_USED)
                    continue
                }
                let value := and(shr(128, head), _VALUE_MASK)
                mstore(add(work, _VALUE), value)
                // The signature: the EIP-712 digest and `ecrecover`, as OpenZeppelin's
                // `ECDSA.tryRecover` with its checks kept (a high `s` is refused; a failed recovery
                // returns nothing, never the payer, who is never the zero address) and without its
                // allocations.
                {
                    let vs := calldataload(add(at, 0x40))
                    let s := shr(1, shl(1, vs))
                    let signed := 0
                    if iszero(gt(s, _HALF_CURVE_ORDER)) {
                        mstore(add(work, add(_ENVELOPE, 0x22)), keccak256(work, _MESSAGE_BYTES))
                        let input := add(work, _RECOVERY)
                        mstore(input, keccak256(add(work, _ENVELOPE), 0x42))
                        mstore(add(input, 0x20), add(shr(255, vs), 27))
                        mstore(add(input, 0x40), calldataload(add(at, 0x20)))
                        mstore(add(input, 0x60), s)
                        mstore(0x00, 0)
                        // Yul evaluates arguments right to left, so the call comes first on its own.
                        let called := staticcall(gas(), 0x01, input, 0x80, 0x00, 0x20)
                        signed := and(called, eq(mload(0x00), from))
                    }
                    if iszero(signed) {
                        skip(work, at, _INVALID_SIGNATURE)
                        continue
                    }
                }
                // The payer's flag being clear, value <= balance cannot underflow; balance + value is
                // at most the supply, so a credit cannot reach the payee's flag. The payee's word is
                // read after the payer's is written: they are one word when a payer pays itself.
                {
                    let fromWord := mload(add(payer, _WORD))
                    if lt(fromWord, value) {
                        skip(work, at, _INSUFFICIENT_BALANCE)
                        continue
                    }
                    mstore(add(payer, _WORD), sub(fromWord, value))
                }
                mstore(add(payee, _WORD), add(mload(add(payee, _WORD)), value))
                mstore(add(payer, _NONCE_BITS), or(mload(add(payer, _NONCE_BITS)), bit))
                mstore(0x00, value)
                log3(0x00, 0x20, mload(add(work, _TRANSFER)), from, to)
                settledCount := add(settledCount, 1)
            }
            storeLedger(work)
        }
    }
}
