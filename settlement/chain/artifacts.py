"""Load the ABI and bytecode forge writes to ``contracts/out``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settlement.errors import ContractsNotBuiltError


@dataclass(frozen=True)
class ContractArtifact:
    """A compiled contract: its name, ABI and creation bytecode (0x-prefixed hex)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def load_artifact(contracts_dir: Path, name: str) -> ContractArtifact:
    """Read ``out/<name>.sol/<name>.json``; a clear error says to build when it is missing."""
    path = contracts_dir / "out" / f"{name}.sol" / f"{name}.json"
    try:
        document = json.loads(path.read_text())
        abi = document["abi"]
        bytecode = document["bytecode"]["object"]
    except FileNotFoundError:
        raise ContractsNotBuiltError(
            f"contract artifact {path} not found: run `make setup` (it runs forge build)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ContractsNotBuiltError(
            f"contract artifact {path} is unreadable ({error}): run `make setup` to rebuild"
        ) from None
    if not isinstance(bytecode, str) or len(bytecode) <= 2:
        raise ContractsNotBuiltError(
            f"contract artifact {path} has no bytecode: is {name} abstract?"
        )
    return ContractArtifact(name=name, abi=abi, bytecode=bytecode)
