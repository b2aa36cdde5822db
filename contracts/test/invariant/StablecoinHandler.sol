// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {Stablecoin} from "../../src/Stablecoin.sol";
import {IERC3009} from "../../src/interfaces/IERC3009.sol";
import {StablecoinTypedData} from "../utils/StablecoinTypedData.sol";
import {Test} from "../utils/Test.sol";

/// @title StablecoinHandler
/// @notice The invariant fuzzer's only target. Each function turns fuzzed seeds into a call that
/// must succeed (amounts are bounded by balances, allowances and the mint allowance), so the campaign
/// can run with fail-on-revert, and records ghost totals the invariants compare with the token.
/// @dev Actors are EOAs with known keys so they can sign EIP-3009 authorizations. Authorization
/// nonces come from a small space on purpose: replays and cancelled nonces are tried often, and the
/// handler expects exactly those, and only those, to be rejected.
contract StablecoinHandler is Test {
    uint256 internal constant ACTOR_COUNT = 4;
    /// @dev Nonces per actor; small so that reuse is attempted often.
    uint256 internal constant NONCE_SPACE = 8;

    Stablecoin public immutable token;
    string internal tokenName;
    address public immutable minter;

    address[] internal _actors;
    mapping(address actor => uint256 privateKey) internal _keys;

    uint256 public ghostMinted;
    uint256 public ghostBurned;
    /// @dev Authorizations that moved tokens, plus cancellations: each spends one nonce.
    uint256 public ghostAuthorizationsUsed;
    uint256 public ghostAuthorizationsCanceled;
    /// @dev Distinct (authorizer, nonce) pairs spent so far.
    uint256 public ghostDistinctNoncesSpent;
    /// @dev Submissions with an already spent nonce, all of which must have been rejected.
    uint256 public ghostReplaysRejected;
    /// @dev Calls that failed or succeeded against expectation; must stay zero.
    uint256 public ghostUnexpectedOutcomes;
    mapping(address authorizer => mapping(bytes32 nonce => bool spent)) internal _spent;

    constructor(Stablecoin token_, string memory tokenName_, address minter_) {
        token = token_;
        tokenName = tokenName_;
        minter = minter_;
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            (address actor, uint256 key) = makeAddrAndKey(string.concat("actor", Strings.toString(i)));
            _actors.push(actor);
            _keys[actor] = key;
        }
    }

    // ---------------------------------------------------------------- views for the invariants

    /// @notice Every account that can ever hold tokens here: the actors and the minter.
    function holders() external view returns (address[] memory all) {
        all = new address[](ACTOR_COUNT + 1);
        for (uint256 i = 0; i < ACTOR_COUNT; ++i) {
            all[i] = _actors[i];
        }
        all[ACTOR_COUNT] = minter;
    }

    // ---------------------------------------------------------------- actions

    /// @notice The minter mints to an actor or to itself, within its remaining allowance.
    function mint(uint256 toSeed, uint256 amount) external {
        uint256 remaining = token.minterAllowance(minter);
        if (remaining == 0) return;
        amount = bound(amount, 1, remaining);
        address to = toSeed % (ACTOR_COUNT + 1) == ACTOR_COUNT ? minter : _actor(toSeed);

        vm.prank(minter);
        token.mint(to, amount);
        ghostMinted += amount;
    }

    /// @notice The minter burns part of its own balance.
    function burn(uint256 amount) external {
        uint256 balance = token.balanceOf(minter);
        if (balance == 0) return;
        amount = bound(amount, 1, balance);

        vm.prank(minter);
        token.burn(amount);
        ghostBurned += amount;
    }

    /// @notice An actor pays another actor or hands tokens back to the minter for burning.
    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        address to = toSeed % (ACTOR_COUNT + 1) == ACTOR_COUNT ? minter : _actor(toSeed);
        amount = bound(amount, 0, token.balanceOf(from));

        vm.prank(from);
        _expect(token.transfer(to, amount));
    }

    function approve(uint256 ownerSeed, uint256 spenderSeed, uint256 amount) external {
        vm.prank(_actor(ownerSeed));
        _expect(token.approve(_actor(spenderSeed), amount));
    }

    /// @notice A spender moves at most what both the allowance and the owner's balance allow.
    function transferFrom(uint256 spenderSeed, uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address spender = _actor(spenderSeed);
        address from = _actor(fromSeed);
        uint256 allowance = token.allowance(from, spender);
        uint256 balance = token.balanceOf(from);
        amount = bound(amount, 0, allowance < balance ? allowance : balance);

        vm.prank(spender);
        _expect(token.transferFrom(from, _actor(toSeed), amount));
    }

    /// @notice A relayer submits an actor's signed authorization; a spent nonce must be rejected.
    function transferWithAuthorization(uint256 fromSeed, uint256 toSeed, uint256 amount, uint256 nonceSeed) external {
        address from = _actor(fromSeed);
        address to = _actor(toSeed);
        bytes32 nonce = _nonce(nonceSeed);
        amount = bound(amount, 0, token.balanceOf(from));
        uint256 validAfter = block.timestamp - 1;
        uint256 validBefore = block.timestamp + 1 hours;
        bytes32 structHash = StablecoinTypedData.authorizationStructHash(
            StablecoinTypedData.TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, amount, validAfter, validBefore, nonce
        );
        bytes memory signature = _signature(from, structHash);

        try token.transferWithAuthorization(from, to, amount, validAfter, validBefore, nonce, signature) {
            ++ghostAuthorizationsUsed;
            _recordSpent(from, nonce);
        } catch (bytes memory reason) {
            _recordRejected(from, nonce, reason);
        }
    }

    /// @notice An actor cancels one of its nonces; a spent nonce must be rejected.
    function cancelAuthorization(uint256 authorizerSeed, uint256 nonceSeed) external {
        address authorizer = _actor(authorizerSeed);
        bytes32 nonce = _nonce(nonceSeed);
        bytes memory signature = _signature(authorizer, StablecoinTypedData.cancelStructHash(authorizer, nonce));

        try token.cancelAuthorization(authorizer, nonce, signature) {
            ++ghostAuthorizationsCanceled;
            _recordSpent(authorizer, nonce);
        } catch (bytes memory reason) {
            _recordRejected(authorizer, nonce, reason);
        }
    }

    // ---------------------------------------------------------------- internals

    function _actor(uint256 seed) internal view returns (address) {
        return _actors[seed % ACTOR_COUNT];
    }

    function _nonce(uint256 seed) internal pure returns (bytes32) {
        return keccak256(abi.encode("nonce", seed % NONCE_SPACE));
    }

    function _signature(address signer, bytes32 structHash) internal view returns (bytes memory) {
        bytes32 separator = StablecoinTypedData.domainSeparator(tokenName, address(token));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[signer], StablecoinTypedData.digest(separator, structHash));
        return abi.encodePacked(r, s, v);
    }

    function _recordSpent(address authorizer, bytes32 nonce) internal {
        if (_spent[authorizer][nonce]) {
            ++ghostUnexpectedOutcomes; // a spent nonce was accepted again
        } else {
            _spent[authorizer][nonce] = true;
            ++ghostDistinctNoncesSpent;
        }
    }

    function _recordRejected(address authorizer, bytes32 nonce, bytes memory reason) internal {
        bytes memory replay = abi.encodeWithSelector(IERC3009.AuthorizationAlreadyUsed.selector, authorizer, nonce);
        if (_spent[authorizer][nonce] && keccak256(reason) == keccak256(replay)) ++ghostReplaysRejected;
        else ++ghostUnexpectedOutcomes;
    }

    function _expect(bool returned) internal {
        if (!returned) ++ghostUnexpectedOutcomes;
    }
}
