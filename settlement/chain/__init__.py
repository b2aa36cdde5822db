"""The chain edge: an embedded Anvil, forge artifacts, and an async EVM client."""
