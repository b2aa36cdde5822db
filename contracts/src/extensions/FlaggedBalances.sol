// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {SlotDerivation} from "@openzeppelin/contracts/utils/SlotDerivation.sol";

/// @title FlaggedBalances
/// @notice ERC-20 balances that carry each account's blocklist flag in the same storage slot, as
/// USDC v2.2 does: a transfer checks the blocklist without reading a slot it does not read anyway.
/// @dev Replaces OpenZeppelin's private balance and supply storage, so `balanceOf`, `totalSupply`
/// and `_update` are overridden together and keep OpenZeppelin's behaviour (its errors, its
/// `Transfer` events). An account's word holds its flag in the top bit and its balance below it;
/// the supply is capped at `MAX_SUPPLY`, so no balance, nor balance plus a credit, reaches the flag.
abstract contract FlaggedBalances is ERC20 {
    using SlotDerivation for bytes32;

    /// @dev The top bit of an account's word: set while the account is blocklisted.
    uint256 internal constant BLOCKLIST_FLAG = 1 << 255;

    /// @notice The most tokens that may exist: every balance fits below the flag bit.
    uint256 public constant MAX_SUPPLY = BLOCKLIST_FLAG - 1;

    mapping(address account => uint256 word) private _accountWords;
    uint256 private _supply;

    /// @notice Minting would take the supply to `supply`, above `MAX_SUPPLY`.
    error SupplyCapExceeded(uint256 supply, uint256 cap);

    /// @inheritdoc ERC20
    function balanceOf(address account) public view virtual override returns (uint256) {
        return _accountWords[account] & MAX_SUPPLY;
    }

    /// @inheritdoc ERC20
    function totalSupply() public view virtual override returns (uint256) {
        return _supply;
    }

    /// @dev Whether `account`'s flag is set.
    function _isFlagged(address account) internal view returns (bool) {
        return _accountWords[account] & BLOCKLIST_FLAG != 0;
    }

    /// @dev Sets or clears `account`'s flag; its balance is untouched.
    function _setFlag(address account, bool flagged) internal {
        uint256 word = _accountWords[account];
        _accountWords[account] = flagged ? word | BLOCKLIST_FLAG : word & MAX_SUPPLY;
    }

    /// @dev OpenZeppelin's `ERC20._update` on the flagged words: a mint above `MAX_SUPPLY` reverts.
    function _update(address from, address to, uint256 value) internal virtual override {
        if (from == address(0)) {
            uint256 supply = _supply + value;
            if (supply > MAX_SUPPLY) revert SupplyCapExceeded(supply, MAX_SUPPLY);
            _supply = supply;
        } else {
            uint256 fromWord = _accountWords[from];
            uint256 fromBalance = fromWord & MAX_SUPPLY;
            if (fromBalance < value) revert ERC20InsufficientBalance(from, fromBalance, value);
            // Cannot underflow into the flag: value <= fromBalance.
            unchecked {
                _accountWords[from] = fromWord - value;
            }
        }
        if (to == address(0)) {
            // Cannot underflow: value <= fromBalance <= supply.
            unchecked {
                _supply -= value;
            }
        } else {
            // Cannot reach the flag: balance + value <= supply <= MAX_SUPPLY.
            unchecked {
                _accountWords[to] += value;
            }
        }
        emit Transfer(from, to, value);
    }

    /// @dev The storage slot of `account`'s word, for code that reads and writes many in bulk.
    function _accountWordSlot(address account) internal pure returns (bytes32) {
        bytes32 mappingSlot;
        assembly ("memory-safe") {
            mappingSlot := _accountWords.slot
        }
        return mappingSlot.deriveMapping(account);
    }
}
