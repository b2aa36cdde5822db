from __future__ import annotations

import json
from pathlib import Path

import pytest

from settlement.chain.artifacts import load_artifact
from settlement.errors import ContractsNotBuiltError


def test_loads_the_built_stablecoin(contracts_dir: Path) -> None:
    artifact = load_artifact(contracts_dir, "Stablecoin")
    assert artifact.bytecode.startswith("0x")
    assert any(entry.get("name") == "transferWithAuthorization" for entry in artifact.abi)


def test_missing_artifacts_say_to_build(tmp_path: Path) -> None:
    with pytest.raises(ContractsNotBuiltError, match="run `make setup`"):
        load_artifact(tmp_path, "Stablecoin")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "unreadable"),
        (json.dumps({"abi": []}), "unreadable"),
        (json.dumps({"abi": [], "bytecode": {"object": "0x"}}), "no bytecode"),
    ],
)
def test_broken_artifacts_are_reported(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "out" / "Stablecoin.sol" / "Stablecoin.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(ContractsNotBuiltError, match=reason):
        load_artifact(tmp_path, "Stablecoin")
