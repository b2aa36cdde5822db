// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {Stablecoin} from "../../src/Stablecoin.sol";
import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";
import {BatchPacking} from "../utils/BatchPacking.sol";
import {StablecoinTypedData} from "../utils/StablecoinTypedData.sol";
import {Test} from "../utils/Test.sol";
import {Vm} from "../utils/Vm.sol";

/// @title BatchSettlementHandler
/// @notice The batch invariant campaign's only target. It submits batches that mix valid payments
/// with every kind of invalid one, predicts each payment's outcome with a model of the token, and
/// counts what the token actually did from its events.
/// @dev Nonces come from a small space so replays are attempted often; blocklisting and nonce
/// cancellation change under the batches. Nothing here is expected to revert.
contract BatchSettlementHandler is Test {
    uint256 internal constant ACTOR_COUNT = 4;
    /// @dev Nonces per actor, all in word 0; small so that replays are attempted often.
    uint256 internal constant NONCE_SPACE = 32;
    uint256 internal constant MAX_PAYMENTS = 6;
    uint256 internal constant MAX_MINT = 1_000e6;

    /// @dev How `settleBatch` spoils a payment, chosen per payment; the rest are meant to be valid.
    uint256 internal constant SPOIL_INDEX = 0;
    uint256 internal constant SPOIL_EXPIRY = 1;
    uint256 internal constant SPOIL_SIGNATURE = 2;
    uint256 internal constant SPOIL_VALUE = 3;
    uint256 internal constant SPOIL_KINDS = 8;

    Stablecoin public immutable token;
    address public immutable minter;
    string internal tokenName;

    address[] internal _actors;
    mapping(address actor => uint256 privateKey) internal _keys;

    uint256 public ghostMinted;
    uint256 public ghostSubmitted;
    /// @dev Settled as `settleBatch` returned it, and as counted from `Transfer` events.
    uint256 public ghostSettled;
    uint256 public ghostTransfersLogged;
    /// @dev Skipped as counted from `BatchPaymentSkipped` events, in total and per reason (to see
    /// that a campaign reaches every reason).
    uint256 public ghostSkipped;
    mapping(IBatchSettlement.SkipReason reason => uint256 count) public ghostSkippedFor;
    /// @dev Distinct (payer, nonce) pairs that settled, and settlements of a pair that had settled before.
    uint256 public ghostDistinctNoncesSettled;
    uint256 public ghostDoubleSettlements;
    /// @dev Payments whose outcome or skip reason differed from the model's; must stay zero.
    uint256 public ghostUnexpectedOutcomes;

    /// @dev The bits the token's nonce word 0 of each actor must hold: settled or cancelled nonces.
    mapping(address owner => uint256 bitmap) public ghostSpentBitmap;

    mapping(address payer => mapping(uint256 nonce => bool)) internal _settled;
    mapping(address owner => mapping(uint256 nonce => bool)) internal _cancelled;

    /// @dev The model's view of one payment.
    struct Expectation {
        address from;
        bool settles;
        IBatchSettlement.SkipReason reason;
    }

    constructor(Stablecoin token_, string memory tokenName_, address minter_) {
        token = token_;
        tokenName = tokenName_;
        minter = minter_;
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            (address actor, uint256 key) = makeAddrAndKey(string.concat("batchActor", Strings.toString(i)));
            _actors.push(actor);
            _keys[actor] = key;
        }
    }

    // ---------------------------------------------------------------- views for the invariants

    function actors() external view returns (address[] memory) {
        return _actors;
    }

    // ---------------------------------------------------------------- actions

    /// @notice The minter funds an actor that is not blocklisted.
    function mint(uint256 actorSeed, uint256 amount) external {
        address to = _actors[actorSeed % ACTOR_COUNT];
        uint256 remaining = token.minterAllowance(minter);
        if (remaining == 0 || token.isBlocklisted(to)) return;
        amount = bound(amount, 1, remaining < MAX_MINT ? remaining : MAX_MINT);
        vm.prank(minter);
        token.mint(to, amount);
        ghostMinted += amount;
    }

    /// @notice Takes a blocklisted actor off the blocklist, or blocklists one when none is, so that
    /// most payments stay clear of the blocklist (the handler holds BLOCKLISTER_ROLE).
    function toggleBlocklist(uint256 actorSeed) external {
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            if (token.isBlocklisted(_actors[i])) {
                token.unblocklist(_actors[i]);
                return;
            }
        }
        token.blocklist(_actors[actorSeed % ACTOR_COUNT]);
    }

    /// @notice An actor cancels one of its nonces (all in word 0).
    function cancelBatchNonce(uint256 actorSeed, uint256 nonceSeed) external {
        address owner = _actors[actorSeed % ACTOR_COUNT];
        uint256 nonce = nonceSeed % NONCE_SPACE;
        vm.prank(owner);
        token.cancelBatchNonces(0, 2 ** nonce);
        _cancelled[owner][nonce] = true;
        ghostSpentBitmap[owner] |= 2 ** nonce;
    }

    /// @notice A relayer submits a batch of up to MAX_PAYMENTS payments, some spoiled on purpose.
    function settleBatch(uint256 seed, uint256 count) external {
        count = bound(count, 1, MAX_PAYMENTS);
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](count);
        for (uint256 k = 0; k < count; ++k) {
            payments[k] = _randomPayment(uint256(keccak256(abi.encode(seed, k))));
        }
        Expectation[] memory expected = _expectations(payments);

        vm.recordLogs();
        uint256 settledCount = token.settleBatch(_actors, BatchPacking.pack(payments));
        _compare(payments, expected, vm.getRecordedLogs());
        ghostSubmitted += count;
        ghostSettled += settledCount;
    }

    // ---------------------------------------------------------------- building payments

    /// @dev From, to, value, nonce and spoiling all drawn from `random`; signed by the payer unless
    /// the signature is to be spoiled.
    function _randomPayment(uint256 random) internal view returns (IBatchSettlement.BatchPayment memory p) {
        uint256 spoil = (random >> 8) % SPOIL_KINDS;
        p.fromIndex = SafeCast.toUint32(random % ACTOR_COUNT);
        p.toIndex = SafeCast.toUint32((random >> 16) % ACTOR_COUNT);
        p.nonce = (random >> 24) % NONCE_SPACE;
        p.validBefore = spoil == SPOIL_EXPIRY ? block.timestamp : block.timestamp + 1 hours;
        uint256 balance = token.balanceOf(_actors[p.fromIndex]);
        p.value = spoil == SPOIL_VALUE ? balance + 1 + (random >> 40) % 1e6 : ((random >> 40) % 1e6) % (balance + 1);

        address from = _actors[p.fromIndex];
        address to = _actors[p.toIndex];
        uint256 signer = _keys[spoil == SPOIL_SIGNATURE ? _actors[(p.fromIndex + 1) % ACTOR_COUNT] : from];
        bytes32 digest = StablecoinTypedData.digest(
            StablecoinTypedData.domainSeparator(tokenName, address(token)),
            StablecoinTypedData.batchPaymentStructHash(from, to, p.value, p.nonce, p.validBefore)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signer, digest);
        p.r = r;
        p.vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        // Spoiled last, so the signature covers the real accounts and only the index is wrong.
        if (spoil == SPOIL_INDEX) p.fromIndex = SafeCast.toUint32(ACTOR_COUNT + (random >> 64) % 3);
    }

    // ---------------------------------------------------------------- the model

    /// @dev The outcome of each payment, in order, from the token's state before the batch: the
    /// checks in the documented order, with balances and nonces updated by the payments before.
    function _expectations(IBatchSettlement.BatchPayment[] memory payments)
        internal
        view
        returns (Expectation[] memory expected)
    {
        expected = new Expectation[](payments.length);
        uint256[] memory balances = new uint256[](ACTOR_COUNT);
        for (uint256 a = 0; a < ACTOR_COUNT; ++a) {
            balances[a] = token.balanceOf(_actors[a]);
        }
        for (uint256 k = 0; k < payments.length; ++k) {
            expected[k] = _expect(payments, expected, balances, k);
            if (expected[k].settles) {
                balances[payments[k].fromIndex] -= payments[k].value;
                balances[payments[k].toIndex] += payments[k].value;
            }
        }
    }

    function _expect(
        IBatchSettlement.BatchPayment[] memory payments,
        Expectation[] memory expected,
        uint256[] memory balances,
        uint256 k
    ) internal view returns (Expectation memory e) {
        IBatchSettlement.BatchPayment memory p = payments[k];
        if (p.fromIndex >= ACTOR_COUNT) return _skip(address(0), IBatchSettlement.SkipReason.InvalidAccountIndex);
        e.from = _actors[p.fromIndex];
        address to = _actors[p.toIndex];
        if (block.timestamp >= p.validBefore) return _skip(e.from, IBatchSettlement.SkipReason.Expired);
        if (token.isBlocklisted(e.from) || token.isBlocklisted(to)) {
            return _skip(e.from, IBatchSettlement.SkipReason.AccountBlocklisted);
        }
        if (_nonceSpentBefore(payments, expected, k)) {
            return _skip(e.from, IBatchSettlement.SkipReason.NonceAlreadyUsed);
        }
        if (!_signedByPayer(p, e.from, to)) return _skip(e.from, IBatchSettlement.SkipReason.InvalidSignature);
        if (balances[p.fromIndex] < p.value) return _skip(e.from, IBatchSettlement.SkipReason.InsufficientBalance);
        e.settles = true;
    }

    function _skip(address from, IBatchSettlement.SkipReason reason) internal pure returns (Expectation memory) {
        return Expectation({from: from, settles: false, reason: reason});
    }

    function _nonceSpentBefore(
        IBatchSettlement.BatchPayment[] memory payments,
        Expectation[] memory expected,
        uint256 k
    ) internal view returns (bool) {
        address from = _actors[payments[k].fromIndex];
        if (_settled[from][payments[k].nonce] || _cancelled[from][payments[k].nonce]) return true;
        for (uint256 j = 0; j < k; ++j) {
            bool sameNonce = payments[j].fromIndex == payments[k].fromIndex && payments[j].nonce == payments[k].nonce;
            if (expected[j].settles && sameNonce) return true;
        }
        return false;
    }

    /// @dev Recomputes what the payer would have signed; the model does not look at how the
    /// payment was spoiled.
    function _signedByPayer(IBatchSettlement.BatchPayment memory p, address from, address to)
        internal
        view
        returns (bool)
    {
        bytes32 digest = StablecoinTypedData.digest(
            StablecoinTypedData.domainSeparator(tokenName, address(token)),
            StablecoinTypedData.batchPaymentStructHash(from, to, p.value, p.nonce, p.validBefore)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[from], digest);
        return r == p.r && bytes32(uint256(s) | (uint256(v - 27) << 255)) == p.vs;
    }

    // ---------------------------------------------------------------- what happened

    /// @dev Reads the skipped indexes and reasons from the events, checks them and the settled
    /// payments against the model, and records every settled (payer, nonce).
    function _compare(
        IBatchSettlement.BatchPayment[] memory payments,
        Expectation[] memory expected,
        Vm.Log[] memory logs
    ) internal {
        bool[] memory skipped = new bool[](payments.length);
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(token)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == IERC20.Transfer.selector) {
                ++ghostTransfersLogged;
            } else if (topic == IBatchSettlement.BatchPaymentSkipped.selector) {
                uint256 index = uint256(logs[i].topics[1]);
                (, IBatchSettlement.SkipReason reason) =
                    abi.decode(logs[i].data, (uint256, IBatchSettlement.SkipReason));
                skipped[index] = true;
                ++ghostSkipped;
                ++ghostSkippedFor[reason];
                bool asExpected = !expected[index].settles && expected[index].reason == reason
                    && address(uint160(uint256(logs[i].topics[2]))) == expected[index].from;
                if (!asExpected) ++ghostUnexpectedOutcomes;
            }
        }
        for (uint256 k = 0; k < payments.length; ++k) {
            if (skipped[k]) continue;
            if (!expected[k].settles) ++ghostUnexpectedOutcomes;
            _recordSettled(expected[k].from, payments[k].nonce);
        }
    }

    function _recordSettled(address payer, uint256 nonce) internal {
        if (_settled[payer][nonce]) {
            ++ghostDoubleSettlements;
        } else {
            _settled[payer][nonce] = true;
            ghostSpentBitmap[payer] |= 2 ** nonce;
            ++ghostDistinctNoncesSettled;
        }
    }
}
