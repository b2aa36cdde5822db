"""schemathesis against the running service's OpenAPI document: no 5xx, and every response
matches the schema. The service runs as users run it (`settlement serve`, embedded Anvil)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.cli_helpers import served

pytestmark = pytest.mark.anvil

API_KEY = "schemathesis-key"
EXAMPLES_PER_OPERATION = 25
# A payment can match the schema and still be refused (a bad signature, an unknown channel), so
# schemathesis' "schema-valid data is accepted" check does not apply: these four do.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseSchema]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    with served(folder, API_KEY) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def test_no_server_errors_and_responses_match_the_schema(api_schema: BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=CHECKS)

        check()
