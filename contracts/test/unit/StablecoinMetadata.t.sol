// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {Stablecoin} from "../../src/Stablecoin.sol";
import {IStablecoin} from "../../src/interfaces/IStablecoin.sol";
import {StablecoinFixture} from "../utils/StablecoinFixture.sol";

/// @notice Metadata, decimals, EIP-712 domain, typehash constants and role administration.
contract StablecoinMetadataTest is StablecoinFixture {
    function test_Name() public view {
        assertEq(token.name(), NAME);
    }

    function test_Symbol() public view {
        assertEq(token.symbol(), SYMBOL);
    }

    function test_Decimals() public view {
        assertEq(uint256(token.decimals()), 6);
    }

    function test_TotalSupplyAfterSetUp() public view {
        assertEq(token.totalSupply(), 2 * INITIAL_BALANCE);
    }

    function test_RoleConstants() public view {
        assertEq(token.DEFAULT_ADMIN_ROLE(), bytes32(0));
        assertEq(token.MINTER_ROLE(), keccak256("MINTER_ROLE"));
        assertEq(token.PAUSER_ROLE(), keccak256("PAUSER_ROLE"));
        assertEq(token.BLOCKLISTER_ROLE(), keccak256("BLOCKLISTER_ROLE"));
        assertEq(token.RESCUER_ROLE(), keccak256("RESCUER_ROLE"));
    }

    function test_RolesAfterSetUp() public view {
        assertTrue(token.hasRole(DEFAULT_ADMIN_ROLE, admin), "admin");
        assertTrue(token.hasRole(MINTER_ROLE, minter), "minter");
        assertTrue(token.hasRole(PAUSER_ROLE, pauser), "pauser");
        assertTrue(token.hasRole(BLOCKLISTER_ROLE, blocklister), "blocklister");
        assertTrue(token.hasRole(RESCUER_ROLE, rescuer), "rescuer");
        // The admin holds only the admin role; the operational roles are separate.
        assertFalse(token.hasRole(MINTER_ROLE, admin), "admin is no minter");
        assertFalse(token.hasRole(PAUSER_ROLE, admin), "admin is no pauser");
    }

    function test_EveryRoleIsAdministeredByTheDefaultAdmin() public view {
        assertEq(token.getRoleAdmin(DEFAULT_ADMIN_ROLE), DEFAULT_ADMIN_ROLE);
        assertEq(token.getRoleAdmin(MINTER_ROLE), DEFAULT_ADMIN_ROLE);
        assertEq(token.getRoleAdmin(PAUSER_ROLE), DEFAULT_ADMIN_ROLE);
        assertEq(token.getRoleAdmin(BLOCKLISTER_ROLE), DEFAULT_ADMIN_ROLE);
        assertEq(token.getRoleAdmin(RESCUER_ROLE), DEFAULT_ADMIN_ROLE);
    }

    function test_TypehashConstantsMatchTheStandards() public view {
        assertEq(token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH(), TRANSFER_WITH_AUTHORIZATION_TYPEHASH);
        assertEq(token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH(), RECEIVE_WITH_AUTHORIZATION_TYPEHASH);
        assertEq(token.CANCEL_AUTHORIZATION_TYPEHASH(), CANCEL_AUTHORIZATION_TYPEHASH);
    }

    function test_DomainSeparator() public view {
        assertEq(token.DOMAIN_SEPARATOR(), _domainSeparator());
    }

    function test_DomainSeparatorFollowsTheChainId() public {
        vm.chainId(8453);
        assertEq(token.DOMAIN_SEPARATOR(), _domainSeparator());
    }

    function test_Eip712Domain() public view {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = token.eip712Domain();
        assertEq(uint256(uint8(fields)), 0x0f, "fields: name, version, chainId, verifyingContract");
        assertEq(name, NAME);
        assertEq(version, VERSION);
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(token));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
    }

    function test_InitialNonceIsZero() public view {
        assertEq(token.nonces(alice), 0);
    }

    function test_SupportsInterface() public view {
        assertTrue(token.supportsInterface(type(IERC165).interfaceId), "IERC165");
        assertTrue(token.supportsInterface(type(IAccessControl).interfaceId), "IAccessControl");
        assertFalse(token.supportsInterface(0xffffffff), "0xffffffff");
    }

    function test_Constructor() public {
        vm.expectEmit(true, true, true, true);
        emit IAccessControl.RoleGranted(DEFAULT_ADMIN_ROLE, alice, address(this));
        Stablecoin other = new Stablecoin("Other", "OTH", alice);
        assertTrue(other.hasRole(DEFAULT_ADMIN_ROLE, alice), "admin");
        assertEq(other.totalSupply(), 0);
        assertFalse(other.paused(), "paused");
    }

    function test_RevertWhen_ConstructorAdminIsZero() public {
        vm.expectRevert(IStablecoin.ZeroAddress.selector);
        new Stablecoin(NAME, SYMBOL, address(0));
    }

    function test_AdminGrantsAndRevokesRoles() public {
        vm.expectEmit();
        emit IAccessControl.RoleGranted(PAUSER_ROLE, carol, admin);
        vm.prank(admin);
        token.grantRole(PAUSER_ROLE, carol);
        assertTrue(token.hasRole(PAUSER_ROLE, carol), "granted");

        vm.expectEmit();
        emit IAccessControl.RoleRevoked(PAUSER_ROLE, carol, admin);
        vm.prank(admin);
        token.revokeRole(PAUSER_ROLE, carol);
        assertFalse(token.hasRole(PAUSER_ROLE, carol), "revoked");
    }

    function test_RevertWhen_NonAdminGrantsRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, minter, DEFAULT_ADMIN_ROLE)
        );
        vm.prank(minter);
        token.grantRole(MINTER_ROLE, carol);
    }

    function test_RevertWhen_NonAdminRevokesRole() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, pauser, DEFAULT_ADMIN_ROLE)
        );
        vm.prank(pauser);
        token.revokeRole(MINTER_ROLE, minter);
    }

    function test_RenounceRole() public {
        vm.expectEmit();
        emit IAccessControl.RoleRevoked(PAUSER_ROLE, pauser, pauser);
        vm.prank(pauser);
        token.renounceRole(PAUSER_ROLE, pauser);
        assertFalse(token.hasRole(PAUSER_ROLE, pauser), "renounced");
    }

    function test_RevertWhen_RenouncingAnotherAccountsRole() public {
        vm.expectRevert(IAccessControl.AccessControlBadConfirmation.selector);
        vm.prank(admin);
        token.renounceRole(PAUSER_ROLE, pauser);
    }
}
