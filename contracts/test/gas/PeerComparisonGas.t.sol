// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20Mock} from "../mocks/ERC20Mock.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice One payment between two accounts that already hold tokens, paid the peers' ways, in the
/// same forge run as this project's batch, channel and net gas tests: a plain OpenZeppelin ERC-20
/// `transfer`, this token's own `transfer` (direct mode: the same ERC-20 with pause and blocklist
/// checks, the flag in the balance word as USDC v2.2 keeps it), and a relayed USDC-style EIP-3009
/// `transferWithAuthorization` (authorization mode) to a holder and to a new holder.
/// @dev Each figure is a whole transaction's gas, as a receipt's gasUsed: the call's execution
/// (every slot cold, as in a fresh transaction), the 21,000 base, and standard calldata gas (the
/// EIP-7623 floor is below it for calls this size). They go to snapshots/PeerComparisonGasTest.json,
/// which `bench/benchmarks_md.py` puts in one table beside the modes' gas tests.
contract PeerComparisonGasTest is StablecoinFixture {
    uint256 internal constant TRANSACTION_BASE_GAS = 21_000;
    uint256 internal constant PAYMENT_VALUE = 25_000;

    /// @dev Printed by forge with -vv (the event forge's test runner decodes).
    event log_named_uint(string key, uint256 val);

    ERC20Mock internal plain;

    function setUp() public override {
        super.setUp();
        plain = new ERC20Mock();
        plain.mint(alice, INITIAL_BALANCE);
        plain.mint(bob, INITIAL_BALANCE);
        _mint(alice, INITIAL_BALANCE);
        _mint(bob, INITIAL_BALANCE);
    }

    function test_Gas_OpenZeppelinTransfer() public {
        bytes memory data = abi.encodeCall(plain.transfer, (bob, PAYMENT_VALUE));
        _record("openZeppelinTransfer", alice, address(plain), data);
    }

    function test_Gas_StablecoinTransfer() public {
        bytes memory data = abi.encodeCall(token.transfer, (bob, PAYMENT_VALUE));
        _record("stablecoinTransfer", alice, address(token), data);
    }

    function test_Gas_TransferWithAuthorization() public {
        _record("transferWithAuthorization", relayer(), address(token), _authorizationCall(bob));
    }

    function test_Gas_TransferWithAuthorizationToANewHolder() public {
        _record("transferWithAuthorizationNewHolder", relayer(), address(token), _authorizationCall(carol));
    }

    function relayer() internal pure returns (address) {
        return address(0xBEEF);
    }

    function _authorizationCall(address to) internal view returns (bytes memory) {
        Authorization memory a = _authorization(alice, to, PAYMENT_VALUE, keccak256("peer comparison"));
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        return abi.encodeWithSignature(
            "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)",
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            signature
        );
    }

    /// @dev Sends `data` to `target` from `sender`, checks it succeeded, and records the whole
    /// transaction's gas under `name`.
    function _record(string memory name, address sender, address target, bytes memory data) internal {
        vm.prank(sender);
        (bool success,) = target.call(data);
        uint256 executionGas = vm.snapshotGasLastCall(string.concat(name, "Execution"));
        assertTrue(success, name);
        uint256 transactionGas = TRANSACTION_BASE_GAS + _calldataGas(data) + executionGas;
        vm.snapshotValue(string.concat(name, "TransactionGas"), transactionGas);
        emit log_named_uint(name, transactionGas);
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }
}
