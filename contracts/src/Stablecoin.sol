// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {BatchSettlement} from "./extensions/BatchSettlement.sol";
import {FlaggedBalances} from "./extensions/FlaggedBalances.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {IStablecoin} from "./interfaces/IStablecoin.sol";

/// @title Stablecoin
/// @notice The settlement asset of the robot economy. See {IStablecoin}, {IERC3009} and
/// {IBatchSettlement}.
/// @dev Built from OpenZeppelin 5 parts. Every balance change goes through `_update`, so pause and
/// the blocklist are enforced in one place for transfers, mints, burns and authorizations alike.
/// The one exception is {BatchSettlement}, which checks pause and the blocklist itself, so that a
/// blocked payment is skipped rather than reverting its batch, and moves balances in bulk. The
/// blocklist is a flag in each account's balance word ({FlaggedBalances}), as in USDC v2.2.
contract Stablecoin is IStablecoin, ERC20Permit, AccessControl, Pausable, BatchSettlement {
    using SafeERC20 for IERC20;

    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant BLOCKLISTER_ROLE = keccak256("BLOCKLISTER_ROLE");
    bytes32 public constant RESCUER_ROLE = keccak256("RESCUER_ROLE");

    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    /// @dev The same type as ERC20Permit's private constant; needed again for the bytes-signature permit.
    bytes32 private constant _PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    uint8 private constant _DECIMALS = 6;

    /// @notice The most authorizations one `transferWithAuthorizations` call may carry; about 40k gas
    /// each, so the block gas limit bounds a call first. This bounds the loop.
    uint256 public constant MAX_AUTHORIZATIONS_PER_CALL = 1_000;

    mapping(address minter => uint256 allowance) private _minterAllowances;
    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    /// @param name_ The token name, also the EIP-712 domain name (domain version "1").
    /// @param symbol_ The token symbol.
    /// @param admin The account given `DEFAULT_ADMIN_ROLE`.
    constructor(string memory name_, string memory symbol_, address admin) ERC20(name_, symbol_) ERC20Permit(name_) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- ERC-20

    /// @notice Six decimals, like USDC: one base unit is a millionth of a dollar.
    function decimals() public pure override returns (uint8) {
        return _DECIMALS;
    }

    /// @dev A blocklisted spender cannot move others' tokens even with an unlimited allowance, where
    /// OpenZeppelin skips `_approve` and so would skip the check below.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _requireNotBlocklisted(_msgSender());
        return super.transferFrom(from, to, value);
    }

    /// @dev Only approvals that emit an event (approve, permit) are checked here: the silent
    /// allowance update inside `transferFrom` is already covered by `_update` and `transferFrom`.
    function _approve(address owner, address spender, uint256 value, bool emitEvent) internal override {
        if (emitEvent) {
            _requireNotPaused();
            _requireNotBlocklisted(owner);
            _requireNotBlocklisted(spender);
        }
        super._approve(owner, spender, value, emitEvent);
    }

    /// @dev The flagged words' balance ({FlaggedBalances}); named here only because OpenZeppelin's
    /// ERC20 reaches this contract by two paths.
    function balanceOf(address account) public view override(ERC20, FlaggedBalances) returns (uint256) {
        return super.balanceOf(account);
    }

    /// @dev See {balanceOf}.
    function totalSupply() public view override(ERC20, FlaggedBalances) returns (uint256) {
        return super.totalSupply();
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, FlaggedBalances) whenNotPaused {
        _requireNotBlocklisted(from);
        _requireNotBlocklisted(to);
        super._update(from, to, value);
    }

    // ---------------------------------------------------------------- minting

    /// @inheritdoc IStablecoin
    function configureMinter(address minter, uint256 allowance) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (minter == address(0)) revert ZeroAddress();
        _grantRole(MINTER_ROLE, minter);
        _minterAllowances[minter] = allowance;
        emit MinterConfigured(minter, allowance);
    }

    /// @inheritdoc IStablecoin
    function removeMinter(address minter) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _revokeRole(MINTER_ROLE, minter);
        delete _minterAllowances[minter];
        emit MinterRemoved(minter);
    }

    /// @inheritdoc IStablecoin
    function minterAllowance(address minter) external view returns (uint256) {
        return _minterAllowances[minter];
    }

    /// @inheritdoc IStablecoin
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        address minter = _msgSender();
        uint256 allowance = _minterAllowances[minter];
        if (amount > allowance) revert MintAllowanceExceeded(minter, allowance, amount);
        // Cannot underflow: amount <= allowance was checked just above.
        unchecked {
            _minterAllowances[minter] = allowance - amount;
        }
        _mint(to, amount);
        emit Minted(minter, to, amount);
    }

    /// @inheritdoc IStablecoin
    function burn(uint256 amount) external onlyRole(MINTER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        _burn(_msgSender(), amount);
        emit Burned(_msgSender(), amount);
    }

    // ---------------------------------------------------------------- pause, blocklist, rescue

    /// @inheritdoc IStablecoin
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IStablecoin
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @inheritdoc IStablecoin
    function blocklist(address account) external onlyRole(BLOCKLISTER_ROLE) {
        // Blocking the zero address would block every mint and burn, which is never what is meant.
        if (account == address(0)) revert ZeroAddress();
        _setFlag(account, true);
        emit Blocklisted(account);
    }

    /// @inheritdoc IStablecoin
    function unblocklist(address account) external onlyRole(BLOCKLISTER_ROLE) {
        _setFlag(account, false);
        emit Unblocklisted(account);
    }

    /// @inheritdoc IStablecoin
    function isBlocklisted(address account) external view returns (bool) {
        return _isFlagged(account);
    }

    /// @inheritdoc IStablecoin
    function rescueERC20(address token, address to, uint256 amount) external onlyRole(RESCUER_ROLE) {
        if (to == address(0)) revert ZeroAddress();
        IERC20(token).safeTransfer(to, amount);
        emit TokensRescued(token, to, amount);
    }

    // ---------------------------------------------------------------- EIP-2612 with bytes signatures

    /// @inheritdoc IStablecoin
    function permit(address owner, address spender, uint256 value, uint256 deadline, bytes calldata signature)
        external
    {
        if (block.timestamp > deadline) revert ERC2612ExpiredSignature(deadline);
        bytes32 structHash = keccak256(abi.encode(_PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline));
        _requireValidSignature(owner, structHash, signature);
        _approve(owner, spender, value);
    }

    // ---------------------------------------------------------------- EIP-3009

    /// @inheritdoc IERC3009
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @inheritdoc IERC3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        bytes32 structHash = _authorizationHash(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce
        );
        _useAuthorization(from, nonce, validAfter, validBefore, structHash, signature);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        bytes32 structHash = _authorizationHash(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce
        );
        _useAuthorization(from, nonce, validAfter, validBefore, structHash, abi.encodePacked(r, s, v));
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function transferWithAuthorizations(TransferAuthorization[] calldata authorizations)
        external
        returns (uint256 settledCount)
    {
        _requireNotPaused();
        uint256 count = authorizations.length;
        if (count > MAX_AUTHORIZATIONS_PER_CALL) revert TooManyAuthorizations(count, MAX_AUTHORIZATIONS_PER_CALL);
        for (uint256 i = 0; i < count; ++i) {
            TransferAuthorization calldata authorization = authorizations[i];
            (bool settled, AuthorizationSkipReason reason) = _trySettleAuthorization(authorization);
            if (settled) {
                // Cannot overflow: at most one increment per authorization, and they are bounded.
                unchecked {
                    ++settledCount;
                }
            } else {
                emit AuthorizationSkipped(i, authorization.from, authorization.nonce, reason);
            }
        }
        // Cannot underflow: settledCount counts a subset of the authorizations.
        unchecked {
            emit AuthorizationsSettled(_msgSender(), settledCount, count - settledCount);
        }
    }

    /// @inheritdoc IERC3009
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        if (to != _msgSender()) revert CallerMustBePayee(_msgSender(), to);
        bytes32 structHash =
            _authorizationHash(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce);
        _useAuthorization(from, nonce, validAfter, validBefore, structHash, signature);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (to != _msgSender()) revert CallerMustBePayee(_msgSender(), to);
        bytes32 structHash =
            _authorizationHash(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce);
        _useAuthorization(from, nonce, validAfter, validBefore, structHash, abi.encodePacked(r, s, v));
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes calldata signature) external {
        _cancelAuthorization(authorizer, nonce, signature);
    }

    /// @inheritdoc IERC3009
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        _cancelAuthorization(authorizer, nonce, abi.encodePacked(r, s, v));
    }

    // ---------------------------------------------------------------- internals

    function _authorizationHash(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce));
    }

    /// @dev Checks the validity window, the nonce and the signature, then spends the nonce. Paused
    /// transfers are stopped by `_update`; the explicit check here gives the same error before any
    /// signature work is done.
    function _useAuthorization(
        address authorizer,
        bytes32 nonce,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 structHash,
        bytes memory signature
    ) private {
        _requireNotPaused();
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter, block.timestamp);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore, block.timestamp);
        _requireUnusedAuthorization(authorizer, nonce);
        _requireValidSignature(authorizer, structHash, signature);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationUsed(authorizer, nonce);
    }

    /// @dev `transferWithAuthorization`'s checks as answers rather than reverts, so one bad
    /// authorization skips instead of undoing the batch; the cheap checks come before the signature.
    function _trySettleAuthorization(TransferAuthorization calldata a)
        private
        returns (bool settled, AuthorizationSkipReason reason)
    {
        if (block.timestamp <= a.validAfter) return (false, AuthorizationSkipReason.NotYetValid);
        if (block.timestamp >= a.validBefore) return (false, AuthorizationSkipReason.Expired);
        if (_authorizationStates[a.from][a.nonce]) return (false, AuthorizationSkipReason.AlreadyUsed);
        if (a.to == address(0)) return (false, AuthorizationSkipReason.InvalidRecipient);
        if (_isFlagged(a.from) || _isFlagged(a.to)) return (false, AuthorizationSkipReason.Blocklisted);
        if (balanceOf(a.from) < a.value) return (false, AuthorizationSkipReason.InsufficientBalance);
        bytes32 structHash = _authorizationHash(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce
        );
        if (!SignatureChecker.isValidSignatureNow(a.from, _hashTypedDataV4(structHash), a.signature)) {
            return (false, AuthorizationSkipReason.InvalidSignature);
        }
        _authorizationStates[a.from][a.nonce] = true;
        emit AuthorizationUsed(a.from, a.nonce);
        _transfer(a.from, a.to, a.value);
        return (true, reason);
    }

    function _cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) private {
        _requireNotPaused();
        _requireUnusedAuthorization(authorizer, nonce);
        bytes32 structHash = keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce));
        _requireValidSignature(authorizer, structHash, signature);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    function _requireUnusedAuthorization(address authorizer, bytes32 nonce) private view {
        if (_authorizationStates[authorizer][nonce]) revert AuthorizationAlreadyUsed(authorizer, nonce);
    }

    /// @dev ECDSA for accounts without code, EIP-1271 `isValidSignature` for contract wallets.
    function _requireValidSignature(address signer, bytes32 structHash, bytes memory signature) private view {
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
    }

    function _requireNotBlocklisted(address account) private view {
        if (_isFlagged(account)) revert AccountBlocklisted(account);
    }
}
