"""The pure domain core: money, EIP-712 messages and their signatures. No I/O lives here."""
