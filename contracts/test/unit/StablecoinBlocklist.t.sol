// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice A blocklisted account can neither send, receive, approve, be approved nor spend.
contract StablecoinBlocklistTest is StablecoinFixture {
    bytes32 internal constant NONCE = keccak256("blocklist-nonce");

    function _expectBlocklisted(address account) internal {
        vm.expectRevert(abi.encodeWithSelector(IStablecoin.AccountBlocklisted.selector, account));
    }

    // ---------------------------------------------------------------- managing the list

    function test_Blocklist() public {
        vm.expectEmit(address(token));
        emit IStablecoin.Blocklisted(bob);
        vm.prank(blocklister);
        token.blocklist(bob);
        assertTrue(token.isBlocklisted(bob), "blocklisted");
        assertFalse(token.isBlocklisted(alice), "others untouched");
    }

    function test_Unblocklist() public {
        _blocklist(bob);
        vm.expectEmit(address(token));
        emit IStablecoin.Unblocklisted(bob);
        vm.prank(blocklister);
        token.unblocklist(bob);
        assertFalse(token.isBlocklisted(bob), "unblocklisted");
    }

    function test_RevertWhen_BlocklistZeroAddress() public {
        vm.expectRevert(IStablecoin.ZeroAddress.selector);
        vm.prank(blocklister);
        token.blocklist(address(0));
    }

    function test_RevertWhen_BlocklistCallerIsNotBlocklister() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, admin, BLOCKLISTER_ROLE)
        );
        vm.prank(admin);
        token.blocklist(bob);
    }

    function test_RevertWhen_UnblocklistCallerIsNotBlocklister() public {
        _blocklist(bob);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, bob, BLOCKLISTER_ROLE)
        );
        vm.prank(bob);
        token.unblocklist(bob);
    }

    // ---------------------------------------------------------------- transfers

    function test_RevertWhen_TransferFromBlocklistedSender() public {
        _blocklist(alice);
        _expectBlocklisted(alice);
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(bob, 1);
    }

    function test_RevertWhen_TransferToBlocklistedReceiver() public {
        _blocklist(bob);
        _expectBlocklisted(bob);
        vm.prank(alice);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transfer(bob, 1);
    }

    function test_RevertWhen_TransferFromByBlocklistedSpender() public {
        vm.prank(alice);
        token.approve(bob, 10e6);
        _blocklist(bob);

        _expectBlocklisted(bob);
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, carol, 1);
    }

    function test_RevertWhen_TransferFromByBlocklistedSpenderWithUnlimitedAllowance() public {
        // With an unlimited allowance OpenZeppelin never calls `_approve`; the spender is still stopped.
        vm.prank(alice);
        token.approve(bob, type(uint256).max);
        _blocklist(bob);

        _expectBlocklisted(bob);
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, carol, 1);
    }

    function test_RevertWhen_TransferFromBlocklistedOwner() public {
        vm.prank(alice);
        token.approve(bob, type(uint256).max);
        _blocklist(alice);

        _expectBlocklisted(alice);
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, carol, 1);
    }

    function test_RevertWhen_TransferFromToBlocklistedReceiver() public {
        vm.prank(alice);
        token.approve(bob, 10e6);
        _blocklist(carol);

        _expectBlocklisted(carol);
        vm.prank(bob);
        // forge-lint: disable-next-line(erc20-unchecked-transfer)
        token.transferFrom(alice, carol, 1);
    }

    function test_Unblocklist_RestoresTransfers() public {
        _blocklist(alice);
        vm.prank(blocklister);
        token.unblocklist(alice);

        vm.prank(alice);
        assertTrue(token.transfer(bob, 1e6), "transfer");
        assertEq(token.balanceOf(bob), 1e6);
    }

    // ---------------------------------------------------------------- approvals

    function test_RevertWhen_ApproveByBlocklistedOwner() public {
        _blocklist(alice);
        _expectBlocklisted(alice);
        vm.prank(alice);
        token.approve(bob, 1);
    }

    function test_RevertWhen_ApproveBlocklistedSpender() public {
        _blocklist(bob);
        _expectBlocklisted(bob);
        vm.prank(alice);
        token.approve(bob, 1);
    }

    function test_RevertWhen_PermitByBlocklistedOwner() public {
        uint256 deadline = block.timestamp + 1 hours;
        Sig memory sig = _sign(aliceKey, _permitDigest(alice, bob, 1e6, 0, deadline));
        _blocklist(alice);
        _expectBlocklisted(alice);
        token.permit(alice, bob, 1e6, deadline, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_PermitBlocklistedSpender() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _signBytes(aliceKey, _permitDigest(alice, bob, 1e6, 0, deadline));
        _blocklist(bob);
        _expectBlocklisted(bob);
        token.permit(alice, bob, 1e6, deadline, signature);
    }

    // ---------------------------------------------------------------- authorizations

    function test_RevertWhen_TransferWithAuthorizationFromBlocklistedPayer() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _transferDigest(a));
        _blocklist(alice);
        _expectBlocklisted(alice);
        token.transferWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
        assertFalse(token.authorizationState(alice, NONCE), "nonce not spent");
    }

    function test_RevertWhen_TransferWithAuthorizationToBlocklistedPayee() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        Sig memory sig = _sign(aliceKey, _transferDigest(a));
        _blocklist(bob);
        _expectBlocklisted(bob);
        token.transferWithAuthorization(
            a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s
        );
    }

    function test_RevertWhen_ReceiveWithAuthorizationFromBlocklistedPayer() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        Sig memory sig = _sign(aliceKey, _receiveDigest(a));
        _blocklist(alice);
        _expectBlocklisted(alice);
        vm.prank(bob);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_ReceiveWithAuthorizationByBlocklistedPayee() public {
        Authorization memory a = _authorization(alice, bob, 1e6, NONCE);
        bytes memory signature = _signBytes(aliceKey, _receiveDigest(a));
        _blocklist(bob);
        _expectBlocklisted(bob);
        vm.prank(bob);
        token.receiveWithAuthorization(a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, signature);
    }

    // ---------------------------------------------------------------- mint and burn

    function test_RevertWhen_MintToBlocklisted() public {
        _blocklist(bob);
        _expectBlocklisted(bob);
        vm.prank(minter);
        token.mint(bob, 1);
    }

    function test_RevertWhen_BlocklistedMinterBurns() public {
        _mint(minter, 1e6);
        _blocklist(minter);
        _expectBlocklisted(minter);
        vm.prank(minter);
        token.burn(1e6);
    }
}
