// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {Stablecoin} from "../../src/Stablecoin.sol";
import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {StablecoinTypedData} from "./StablecoinTypedData.sol";
import {Test} from "./Test.sol";

/// @title StablecoinFixture
/// @notice The deployed token with one account per role, funded users, and EIP-712 signing helpers.
/// @dev Digests come from {StablecoinTypedData}, which rebuilds the domain separator and typehashes
/// from the standards' strings. Calls expected to revert return nothing, so forge-lint's
/// erc20-unchecked-transfer is silenced on those lines only.
abstract contract StablecoinFixture is Test {
    string internal constant NAME = "Robot Dollar";
    string internal constant SYMBOL = "RUSD";
    string internal constant VERSION = StablecoinTypedData.VERSION;

    /// @dev A realistic start time, so validity windows before "now" exist.
    uint256 internal constant START_TIME = 1_750_000_000;
    uint256 internal constant MINTER_ALLOWANCE = 1_000_000e6;
    uint256 internal constant INITIAL_BALANCE = 1_000e6;

    bytes32 internal constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH =
        StablecoinTypedData.TRANSFER_WITH_AUTHORIZATION_TYPEHASH;
    bytes32 internal constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH =
        StablecoinTypedData.RECEIVE_WITH_AUTHORIZATION_TYPEHASH;
    bytes32 internal constant CANCEL_AUTHORIZATION_TYPEHASH = StablecoinTypedData.CANCEL_AUTHORIZATION_TYPEHASH;

    bytes32 internal constant DEFAULT_ADMIN_ROLE = 0x00;
    bytes32 internal constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 internal constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 internal constant BLOCKLISTER_ROLE = keccak256("BLOCKLISTER_ROLE");
    bytes32 internal constant RESCUER_ROLE = keccak256("RESCUER_ROLE");

    /// @notice An EIP-3009 authorization, kept in one struct to keep test functions' stacks small.
    struct Authorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }

    /// @notice An ECDSA signature split the way the v,r,s overloads take it.
    struct Sig {
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    Stablecoin internal token;
    ERC1271WalletMock internal wallet;

    address internal admin;
    address internal minter;
    address internal pauser;
    address internal blocklister;
    address internal rescuer;

    address internal alice;
    uint256 internal aliceKey;
    address internal bob;
    uint256 internal bobKey;
    address internal carol;
    address internal walletOwner;
    uint256 internal walletOwnerKey;

    function setUp() public virtual {
        vm.warp(START_TIME);

        admin = makeAddr("admin");
        minter = makeAddr("minter");
        pauser = makeAddr("pauser");
        blocklister = makeAddr("blocklister");
        rescuer = makeAddr("rescuer");
        (alice, aliceKey) = makeAddrAndKey("alice");
        (bob, bobKey) = makeAddrAndKey("bob");
        carol = makeAddr("carol");
        (walletOwner, walletOwnerKey) = makeAddrAndKey("walletOwner");

        token = new Stablecoin(NAME, SYMBOL, admin);
        vm.label(address(token), "Stablecoin");
        wallet = new ERC1271WalletMock(walletOwner);
        vm.label(address(wallet), "wallet");

        vm.startPrank(admin);
        token.configureMinter(minter, MINTER_ALLOWANCE);
        token.grantRole(PAUSER_ROLE, pauser);
        token.grantRole(BLOCKLISTER_ROLE, blocklister);
        token.grantRole(RESCUER_ROLE, rescuer);
        vm.stopPrank();

        vm.startPrank(minter);
        token.mint(alice, INITIAL_BALANCE);
        token.mint(address(wallet), INITIAL_BALANCE);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- actions

    function _mint(address to, uint256 amount) internal {
        vm.prank(minter);
        token.mint(to, amount);
    }

    function _pause() internal {
        vm.prank(pauser);
        token.pause();
    }

    function _blocklist(address account) internal {
        vm.prank(blocklister);
        token.blocklist(account);
    }

    // ---------------------------------------------------------------- EIP-712

    function _domainSeparator() internal view returns (bytes32) {
        return StablecoinTypedData.domainSeparator(NAME, address(token));
    }

    function _permitDigest(address owner, address spender, uint256 value, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        return StablecoinTypedData.digest(
            _domainSeparator(), StablecoinTypedData.permitStructHash(owner, spender, value, nonce, deadline)
        );
    }

    function _authorizationDigest(bytes32 typehash, Authorization memory a) internal view returns (bytes32) {
        return StablecoinTypedData.digest(
            _domainSeparator(),
            StablecoinTypedData.authorizationStructHash(
                typehash, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce
            )
        );
    }

    function _transferDigest(Authorization memory a) internal view returns (bytes32) {
        return _authorizationDigest(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, a);
    }

    function _receiveDigest(Authorization memory a) internal view returns (bytes32) {
        return _authorizationDigest(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, a);
    }

    function _cancelDigest(address authorizer, bytes32 nonce) internal view returns (bytes32) {
        return StablecoinTypedData.digest(_domainSeparator(), StablecoinTypedData.cancelStructHash(authorizer, nonce));
    }

    function _batchPaymentDigest(address from, address to, uint256 value, uint256 nonce, uint256 validBefore)
        internal
        view
        returns (bytes32)
    {
        return StablecoinTypedData.digest(
            _domainSeparator(), StablecoinTypedData.batchPaymentStructHash(from, to, value, nonce, validBefore)
        );
    }

    // ---------------------------------------------------------------- signing

    function _sign(uint256 privateKey, bytes32 digest) internal pure returns (Sig memory sig) {
        (sig.v, sig.r, sig.s) = vm.sign(privateKey, digest);
    }

    /// @notice The 65-byte `r || s || v` form the bytes overloads (and EIP-1271 wallets) take.
    function _packed(Sig memory sig) internal pure returns (bytes memory) {
        return abi.encodePacked(sig.r, sig.s, sig.v);
    }

    function _signBytes(uint256 privateKey, bytes32 digest) internal pure returns (bytes memory) {
        return _packed(_sign(privateKey, digest));
    }

    /// @notice An authorization from `from` to `to`, valid from one hour ago until one hour from now.
    function _authorization(address from, address to, uint256 value, bytes32 nonce)
        internal
        view
        returns (Authorization memory)
    {
        return Authorization({
            from: from,
            to: to,
            value: value,
            validAfter: block.timestamp - 1 hours,
            validBefore: block.timestamp + 1 hours,
            nonce: nonce
        });
    }

    /// @notice The EIP-2098 compact form `(r, vs)`: the parity of `v` goes into the top bit of `s`.
    function _signCompact(uint256 privateKey, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        Sig memory sig = _sign(privateKey, digest);
        r = sig.r;
        vs = bytes32(uint256(sig.s) | (uint256(sig.v - 27) << 255));
    }

    /// @notice A batch payment from `accounts[fromIndex]`, signed with `privateKey` (normally that
    /// account's key), valid for one hour from now.
    function _batchPayment(
        uint256 privateKey,
        address[] memory accounts,
        uint256 fromIndex,
        uint256 toIndex,
        uint256 value,
        uint256 nonce
    ) internal view returns (IBatchSettlement.BatchPayment memory payment) {
        payment.fromIndex = SafeCast.toUint32(fromIndex);
        payment.toIndex = SafeCast.toUint32(toIndex);
        payment.value = value;
        payment.nonce = nonce;
        payment.validBefore = block.timestamp + 1 hours;
        _signBatchPayment(privateKey, accounts[fromIndex], accounts[toIndex], payment);
    }

    /// @notice (Re)signs `payment` as a payment from `from` to `to` with `privateKey`.
    function _signBatchPayment(
        uint256 privateKey,
        address from,
        address to,
        IBatchSettlement.BatchPayment memory payment
    ) internal view {
        bytes32 digest = _batchPaymentDigest(from, to, payment.value, payment.nonce, payment.validBefore);
        (payment.r, payment.vs) = _signCompact(privateKey, digest);
    }
}
