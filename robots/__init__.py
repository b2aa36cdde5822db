"""The robot fleet: solar energy in, goods out, micro-payments all day."""

from __future__ import annotations

__version__ = "0.1.0"
