// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title MerkleTreeBuilder
/// @notice Builds Merkle roots and proofs in Solidity for tests, with the sorted-pair keccak hashing
/// OpenZeppelin's `MerkleProof` verifies. Levels are built bottom up; a level's last node without a
/// sibling moves up unchanged (and adds nothing to the proof), so any number of leaves works.
/// @dev Written for clarity, not gas: every call rebuilds the tree.
library MerkleTreeBuilder {
    /// @notice Thrown for a tree without leaves or a leaf index outside the tree.
    error InvalidTree(uint256 leafCount, uint256 index);

    /// @notice The parent of two nodes: keccak256 of the smaller followed by the larger.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @notice The root of the tree over `leaves` (the leaf itself for a single leaf).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) revert InvalidTree(0, 0);
        bytes32[] memory level = _copy(leaves);
        uint256 width = level.length;
        while (width > 1) {
            width = _reduce(level, width);
        }
        return level[0];
    }

    /// @notice The sibling hashes from leaf `index` up to the root.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory siblings) {
        if (index >= leaves.length) revert InvalidTree(leaves.length, index);
        bytes32[] memory level = _copy(leaves);
        // A tree of n leaves is at most 256 levels deep for any n a test can build.
        bytes32[] memory buffer = new bytes32[](256);
        uint256 depth;
        uint256 width = level.length;
        while (width > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < width) buffer[depth++] = level[sibling];
            width = _reduce(level, width);
            index /= 2;
        }
        siblings = new bytes32[](depth);
        for (uint256 i = 0; i < depth; ++i) {
            siblings[i] = buffer[i];
        }
    }

    /// @dev Replaces the first `width` nodes of `level` by their parents, in place; returns the
    /// new width.
    function _reduce(bytes32[] memory level, uint256 width) private pure returns (uint256) {
        uint256 pairs = width / 2;
        for (uint256 i = 0; i < pairs; ++i) {
            level[i] = hashPair(level[2 * i], level[2 * i + 1]);
        }
        if (width % 2 == 1) level[pairs] = level[width - 1];
        return pairs + width % 2;
    }

    function _copy(bytes32[] memory nodes) private pure returns (bytes32[] memory copy) {
        copy = new bytes32[](nodes.length);
        for (uint256 i = 0; i < nodes.length; ++i) {
            copy[i] = nodes[i];
        }
    }
}
