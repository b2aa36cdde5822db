// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IBatchSettlement} from "../../src/interfaces/IBatchSettlement.sol";

/// @notice Packs payments the way `settleBatch` reads them (see {IBatchSettlement}): a head word of
/// `fromIndex` (16 bits), `toIndex` (16), `value` (96), `nonce` (88) and `validBefore` (40), then
/// `r` and `vs`. A field too wide for its place reverts, so no test sends a payment it did not mean.
library BatchPacking {
    error FieldDoesNotFit(string field, uint256 value);

    function pack(IBatchSettlement.BatchPayment[] memory payments) internal pure returns (bytes memory packed) {
        packed = new bytes(payments.length * 96);
        for (uint256 i = 0; i < payments.length; ++i) {
            IBatchSettlement.BatchPayment memory p = payments[i];
            uint256 head = (_fit("fromIndex", p.fromIndex, 16) << 240) | (_fit("toIndex", p.toIndex, 16) << 224)
                | (_fit("value", p.value, 96) << 128) | (_fit("nonce", p.nonce, 88) << 40)
                | _fit("validBefore", p.validBefore, 40);
            bytes32 r = p.r;
            bytes32 vs = p.vs;
            assembly ("memory-safe") {
                let at := add(add(packed, 0x20), mul(i, 96))
                mstore(at, head)
                mstore(add(at, 0x20), r)
                mstore(add(at, 0x40), vs)
            }
        }
    }

    /// @dev One packed payment, for tests that settle a single one.
    function pack(IBatchSettlement.BatchPayment memory payment) internal pure returns (bytes memory) {
        IBatchSettlement.BatchPayment[] memory payments = new IBatchSettlement.BatchPayment[](1);
        payments[0] = payment;
        return pack(payments);
    }

    function _fit(string memory field, uint256 value, uint256 bits) private pure returns (uint256) {
        if (value >> bits != 0) revert FieldDoesNotFit(field, value);
        return value;
    }
}
