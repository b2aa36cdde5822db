// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {NetSettlement} from "../../src/NetSettlement.sol";
import {Stablecoin} from "../../src/Stablecoin.sol";
import {INetSettlement} from "../../src/interfaces/INetSettlement.sol";
import {MerkleTreeBuilder} from "../utils/MerkleTreeBuilder.sol";
import {StablecoinTypedData} from "../utils/StablecoinTypedData.sol";
import {Test} from "../utils/Test.sol";
import {NetWindowChanges} from "../utils/NetWindowChanges.sol";

/// @title NetSettlementHandler
/// @notice The invariant fuzzer's only target for {NetSettlement}. Actors deposit, the operator
/// settles windows netted from random payments (and sometimes posts broken windows, which must be
/// rejected whole), and actors withdraw after the delay. The handler keeps a model of every
/// balance and counts deposits, withdrawals and windows for the invariants.
/// @dev Actions are bounded to what must succeed; expected failures are made in try/catch and
/// checked against the exact error. Anything unexpected increments `ghostUnexpectedOutcomes`.
contract NetSettlementHandler is Test {
    uint256 internal constant ACTOR_COUNT = 5;
    uint256 internal constant MAX_PAYMENTS = 8;
    uint256 internal constant MAX_DEPOSIT = 1_000e6;

    struct Payment {
        bytes32 paymentId;
        address payer;
        address payee;
        uint256 value;
    }

    NetSettlement public immutable net;
    Stablecoin public immutable token;
    address public immutable operator;
    address public immutable minter;
    string internal _tokenName;
    uint64 internal immutable _withdrawalDelay;

    /// @dev Ascending, so netted windows list them in the required order.
    address[] internal _actors;
    mapping(address actor => uint256 privateKey) internal _keys;
    mapping(address actor => uint256 balance) internal _modelBalances;
    /// @dev Open once deposited into, credited or opened; closed when a debit or withdrawal empties
    /// the balance.
    mapping(address actor => bool open) internal _modelOpen;
    uint256 internal _nonceCounter;

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostRejectedWindows;
    uint256 public ghostUnexpectedOutcomes;
    bytes32[] internal _ghostRoots;

    constructor(NetSettlement net_, Stablecoin token_, string memory tokenName_, address operator_, address minter_) {
        net = net_;
        token = token_;
        _tokenName = tokenName_;
        operator = operator_;
        minter = minter_;
        _withdrawalDelay = net_.withdrawalDelaySeconds();
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            (address actor, uint256 key) = makeAddrAndKey(string.concat("net actor", Strings.toString(i)));
            _keys[actor] = key;
            _actors.push(actor);
        }
        for (uint256 i = 1; i < ACTOR_COUNT; ++i) {
            address current = _actors[i];
            uint256 j = i;
            while (j > 0 && _actors[j - 1] > current) {
                _actors[j] = _actors[j - 1];
                --j;
            }
            _actors[j] = current;
        }
    }

    // ---------------------------------------------------------------- views for the invariants

    function actors() external view returns (address[] memory) {
        return _actors;
    }

    function modelBalance(address actor) external view returns (uint256) {
        return _modelBalances[actor];
    }

    function modelOpen(address actor) external view returns (bool) {
        return _modelOpen[actor];
    }

    function ghostRoots() external view returns (bytes32[] memory) {
        return _ghostRoots;
    }

    // ---------------------------------------------------------------- actions

    function deposit(uint256 actorSeed, uint256 amount) external {
        address actor = _actors[actorSeed % ACTOR_COUNT];
        amount = bound(amount, 1, MAX_DEPOSIT);
        vm.prank(minter);
        token.mint(actor, amount);

        bytes32 nonce = keccak256(abi.encode("net deposit", ++_nonceCounter));
        bytes memory signature = _receiveSignature(actor, amount, nonce);
        net.deposit(actor, amount, block.timestamp - 1, block.timestamp + 1 hours, nonce, signature);
        _modelBalances[actor] += amount;
        _modelOpen[actor] = true;
        ghostDeposited += amount;
    }

    /// @notice Anyone opens one or two actors' accounts (perhaps open already); no balance moves.
    function openAccounts(uint256 actorSeed, bool both) external {
        address[] memory accounts = new address[](both ? 2 : 1);
        accounts[0] = _actors[actorSeed % ACTOR_COUNT];
        if (both) accounts[1] = _actors[(actorSeed / ACTOR_COUNT) % ACTOR_COUNT];
        net.openAccounts(accounts);
        for (uint256 i = 0; i < accounts.length; ++i) {
            _modelOpen[accounts[i]] = true;
        }
    }

    /// @notice The operator nets up to MAX_PAYMENTS random affordable payments into a window, then
    /// anyone checks one payment's inclusion proof.
    function settleWindow(uint256 seed, uint256 paymentCount) external {
        paymentCount = bound(paymentCount, 1, MAX_PAYMENTS);
        int256[] memory deltas = new int256[](ACTOR_COUNT);
        Payment[] memory payments = new Payment[](paymentCount);
        bytes32[] memory leaves = new bytes32[](paymentCount);
        for (uint256 k = 0; k < paymentCount; ++k) {
            payments[k] = _randomPayment(seed, k, deltas);
            leaves[k] = _leaf(payments[k]);
        }
        (address[] memory accounts, int256[] memory accountDeltas) = _nonZero(deltas);
        bytes32 root = MerkleTreeBuilder.root(leaves);
        uint64 windowId = net.nextWindowId();

        vm.prank(operator);
        // paymentCount <= MAX_PAYMENTS, far below 2**32.
        // forge-lint: disable-next-line(unsafe-typecast)
        net.settleWindow(windowId, root, uint32(paymentCount), NetWindowChanges.pack(accounts, accountDeltas));
        for (uint256 i = 0; i < accounts.length; ++i) {
            _modelBalances[accounts[i]] = uint256(_signed(_modelBalances[accounts[i]]) + accountDeltas[i]);
            if (accountDeltas[i] > 0) _modelOpen[accounts[i]] = true;
            if (accountDeltas[i] < 0 && _modelBalances[accounts[i]] == 0) _modelOpen[accounts[i]] = false;
        }
        _ghostRoots.push(root);

        uint256 index = seed % paymentCount;
        Payment memory audited = payments[index];
        bytes32[] memory proof = MerkleTreeBuilder.proof(leaves, index);
        if (!net.verifyPayment(windowId, audited.paymentId, audited.payer, audited.payee, audited.value, proof)) {
            ++ghostUnexpectedOutcomes;
        }
    }

    /// @notice The operator posts a broken window: out of order, unbalanced or overdrawing. It must
    /// be rejected with the exact error and change nothing.
    function settleBrokenWindow(uint256 actorSeed, uint256 kind, uint256 amount) external {
        address actor = _actors[actorSeed % ACTOR_COUNT];
        address other = _actors[(actorSeed % ACTOR_COUNT + 1) % ACTOR_COUNT];
        uint64 windowId = net.nextWindowId();
        amount = bound(amount, 1, MAX_DEPOSIT);
        bytes memory expectedError;
        int256[] memory deltas;
        address[] memory accounts;
        kind %= 3;
        if (kind == 0) {
            (accounts, deltas) = _pair(actor, 0, other, 0);
            expectedError = abi.encodeWithSelector(INetSettlement.WindowOutOfOrder.selector, windowId + 1, windowId);
            windowId += 1;
        } else if (kind == 1) {
            (accounts, deltas) = _pair(actor, 0, other, _signed(amount));
            expectedError = abi.encodeWithSelector(INetSettlement.DeltasDoNotSumToZero.selector, _signed(amount));
        } else {
            uint256 balance = _modelBalances[actor];
            int256 debit = -_signed(balance + amount);
            (accounts, deltas) = _pair(actor, debit, other, -debit);
            expectedError =
                abi.encodeWithSelector(INetSettlement.NetChangeExceedsDeposit.selector, actor, balance, debit);
        }

        vm.prank(operator);
        try net.settleWindow(windowId, keccak256("broken"), 1, NetWindowChanges.pack(accounts, deltas)) {
            ++ghostUnexpectedOutcomes;
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expectedError)) ++ghostUnexpectedOutcomes;
            ++ghostRejectedWindows;
        }
    }

    function requestWithdrawal(uint256 actorSeed, uint256 amount) external {
        address actor = _actors[actorSeed % ACTOR_COUNT];
        amount = bound(amount, 1, 2 * _modelBalances[actor] + 1);
        vm.prank(actor);
        net.requestWithdrawal(amount);
    }

    /// @notice Time passes, then an actor with a request withdraws; too early must fail, exactly so.
    function withdraw(uint256 actorSeed, uint256 waitSeed) external {
        (bool found, address actor) = _actorWithRequest(actorSeed);
        if (!found) return;
        (uint256 requested, uint64 availableAt) = net.withdrawalRequest(actor);
        vm.warp(block.timestamp + bound(waitSeed, 0, 2 * uint256(_withdrawalDelay)));
        uint256 balance = _modelBalances[actor];
        uint256 expected = requested < balance ? requested : balance;
        uint256 tokensBefore = token.balanceOf(actor);

        vm.prank(actor);
        try net.withdraw() {
            if (block.timestamp < availableAt) ++ghostUnexpectedOutcomes;
            if (token.balanceOf(actor) != tokensBefore + expected) ++ghostUnexpectedOutcomes;
            _modelBalances[actor] = balance - expected;
            if (expected != 0 && balance == expected) _modelOpen[actor] = false;
            ghostWithdrawn += expected;
        } catch (bytes memory reason) {
            bytes memory early =
                abi.encodeWithSelector(INetSettlement.WithdrawalNotReady.selector, actor, availableAt, block.timestamp);
            if (block.timestamp >= availableAt || keccak256(reason) != keccak256(early)) ++ghostUnexpectedOutcomes;
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev One payment between two different actors of at most what the payer can afford after
    /// the window's earlier payments; its value is added to `deltas`.
    function _randomPayment(uint256 seed, uint256 k, int256[] memory deltas)
        internal
        view
        returns (Payment memory payment)
    {
        uint256 entropy = uint256(keccak256(abi.encode(seed, k)));
        uint256 from = entropy % ACTOR_COUNT;
        uint256 to = (from + 1 + (entropy >> 8) % (ACTOR_COUNT - 1)) % ACTOR_COUNT;
        uint256 affordable = uint256(_signed(_modelBalances[_actors[from]]) + deltas[from]);
        uint256 value = bound(entropy >> 16, 0, affordable);
        deltas[from] -= _signed(value);
        deltas[to] += _signed(value);
        payment = Payment({
            paymentId: keccak256(abi.encode("payment", seed, k)), payer: _actors[from], payee: _actors[to], value: value
        });
    }

    /// @dev An actor with a pending withdrawal request, chosen by `seed`, searching forward from it.
    function _actorWithRequest(uint256 seed) internal view returns (bool found, address actor) {
        for (uint256 k = 0; k < ACTOR_COUNT; ++k) {
            actor = _actors[(seed % ACTOR_COUNT + k) % ACTOR_COUNT];
            (, uint64 availableAt) = net.withdrawalRequest(actor);
            if (availableAt != 0) return (true, actor);
        }
        return (false, address(0));
    }

    /// @dev The accounts with a non-zero delta, in actor (ascending) order.
    function _nonZero(int256[] memory deltas)
        internal
        view
        returns (address[] memory accounts, int256[] memory accountDeltas)
    {
        uint256 count;
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            if (deltas[i] != 0) ++count;
        }
        accounts = new address[](count);
        accountDeltas = new int256[](count);
        uint256 next;
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            if (deltas[i] == 0) continue;
            accounts[next] = _actors[i];
            accountDeltas[next] = deltas[i];
            ++next;
        }
    }

    function _pair(address first, int256 firstDelta, address second, int256 secondDelta)
        internal
        pure
        returns (address[] memory accounts, int256[] memory deltas)
    {
        accounts = new address[](2);
        deltas = new int256[](2);
        (accounts[0], deltas[0], accounts[1], deltas[1]) =
            first < second ? (first, firstDelta, second, secondDelta) : (second, secondDelta, first, firstDelta);
    }

    function _leaf(Payment memory payment) internal pure returns (bytes32) {
        return
            keccak256(
                bytes.concat(keccak256(abi.encode(payment.paymentId, payment.payer, payment.payee, payment.value)))
            );
    }

    function _signed(uint256 value) internal pure returns (int256) {
        require(value <= uint256(type(int256).max), "value too large");
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(value);
    }

    function _receiveSignature(address actor, uint256 amount, bytes32 nonce) internal view returns (bytes memory) {
        bytes32 structHash = StablecoinTypedData.authorizationStructHash(
            StablecoinTypedData.RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            actor,
            address(net),
            amount,
            block.timestamp - 1,
            block.timestamp + 1 hours,
            nonce
        );
        bytes32 separator = StablecoinTypedData.domainSeparator(_tokenName, address(token));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[actor], StablecoinTypedData.digest(separator, structHash));
        return abi.encodePacked(r, s, v);
    }
}
