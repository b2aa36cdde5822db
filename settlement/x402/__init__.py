"""x402: machine payments over HTTP 402, with this service as the facilitator (``exact`` scheme)."""
