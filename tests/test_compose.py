"""docker-compose.yml is valid and right for users with Docker (checking needs no engine)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from settlement.config import REPOSITORY_ROOT

pytestmark = pytest.mark.compose

COMPOSE_FILE = REPOSITORY_ROOT / "docker-compose.yml"
FOUNDRY_VERSION = "1.7.1"


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or Debian's `docker-compose`, whichever works offline."""
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture(scope="module")
def resolved_compose() -> dict[str, Any]:
    command = compose_command()
    if command is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI must validate docker-compose.yml: install docker-compose (.ci/run does)"
            )
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    checked = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    resolved = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True, check=True
    )
    document: dict[str, Any] = yaml.safe_load(resolved.stdout)
    return document


def test_every_image_is_pinned_and_healthchecked(resolved_compose: dict[str, Any]) -> None:
    for name, service in resolved_compose["services"].items():
        assert service["healthcheck"]["test"], f"{name} needs a healthcheck"
        if "build" in service:
            continue  # built from this repository's Dockerfile, whose base images are pinned
        image: str = service["image"]
        last_part = image.rsplit("/", maxsplit=1)[-1]
        tag = last_part.rsplit(":", maxsplit=1)[1] if ":" in last_part else ""
        assert tag, f"{name} must pin its image tag, got {image}"
        assert tag != "latest", f"{name} must pin a release, not latest"


def test_anvil_matches_the_pinned_foundry_and_listens_for_other_containers(
    resolved_compose: dict[str, Any],
) -> None:
    anvil = resolved_compose["services"]["anvil"]
    assert anvil["image"] == f"ghcr.io/foundry-rs/foundry:v{FOUNDRY_VERSION}"
    arguments = [*anvil["entrypoint"], *anvil["command"]]
    assert arguments[arguments.index("--host") + 1] == "0.0.0.0"
    assert arguments[arguments.index("--port") + 1] == "8545"
    assert arguments[arguments.index("--chain-id") + 1] == "31337"
    assert anvil["healthcheck"]["test"][:2] == ["CMD", "cast"]


def test_npm_pins_the_same_foundry_release() -> None:
    package = (Path(REPOSITORY_ROOT) / "contracts" / "package.json").read_text()
    for tool in ("anvil", "forge", "cast"):
        assert f'"@foundry-rs/{tool}": "{FOUNDRY_VERSION}"' in package


def test_postgres_keeps_its_data_in_a_volume(resolved_compose: dict[str, Any]) -> None:
    postgres = resolved_compose["services"]["postgres"]
    # docker-compose 1.x prints the short "source:target:mode" form, `docker compose` the long one.
    targets = [
        volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
        for volume in postgres["volumes"]
    ]
    assert "/var/lib/postgresql/data" in targets
    assert "postgres-data" in resolved_compose["volumes"]


def test_the_service_waits_for_a_healthy_chain_and_database(
    resolved_compose: dict[str, Any],
) -> None:
    settlement = resolved_compose["services"]["settlement"]
    depends = settlement["depends_on"]
    assert depends["anvil"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"
    environment = settlement["environment"]
    assert environment["SETTLEMENT_RPC_URL"] == "http://anvil:8545"
    assert environment["SETTLEMENT_DATABASE_URL"].startswith("postgresql://")


def test_dockerfile_pins_its_base_images() -> None:
    dockerfile = (REPOSITORY_ROOT / "Dockerfile").read_text()
    bases = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert bases
    for base in bases:
        assert ":" in base
        assert not base.endswith(":latest")
        assert any(character.isdigit() for character in base.split(":")[1]), base


def test_the_service_scales_to_replicas_on_host_ports_of_their_own(
    resolved_compose: dict[str, Any],
) -> None:
    settlement = resolved_compose["services"]["settlement"]
    # A fixed container name or a single host port would stop `--scale settlement=3`.
    assert "container_name" not in settlement
    (published,) = [
        port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}:{port['target']}"
        for port in settlement["ports"]
    ]
    host_ip, host_ports, target = published.removesuffix("/tcp").split(":")
    first, last = (int(port) for port in host_ports.split("-"))
    assert (host_ip, first, int(target)) == ("127.0.0.1", 8000, 8000)
    assert last - first + 1 >= 3, "room for at least three replicas"
    assert int(settlement["environment"]["SETTLEMENT_WORKERS"]) >= 1
