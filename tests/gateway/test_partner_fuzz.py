"""Property-based fuzzing of the partner API from its own OpenAPI document (schemathesis):
valid and invalid requests to every operation of the running gate, a bounded number of each;
no answer may be a server error (5xx)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode

from service.engine import Engine
from tests.gateway.partner_helpers import add_partner, running_gate

# examples per operation and mode; CI keeps it small (about 30 s in all on two cores)
EXAMPLES = int(os.environ.get("GRIEVANCE_FUZZ_EXAMPLES", "25"))


def test_no_server_errors_from_the_openapi_document(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIEVANCE_PARTNER_RATE", "100000")
    monkeypatch.setenv("GRIEVANCE_PARTNER_BURST", "100000")
    issued = add_partner(engine, "FUZZ", channel="hotline_12328")
    headers = {"Authorization": f"Bearer {issued.key}"}
    errors: list[str] = []
    calls = [0]
    created: list[str] = []  # the positive examples that made a grievance
    with running_gate(engine) as url:
        schema = schemathesis.openapi.from_url(url + "/partner/v1/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 3
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Case) -> None:
                    response = case.call(base_url=url, headers=headers, timeout=30)
                    calls[0] += 1
                    if response.status_code == 201:
                        created.append(case.formatted_path)
                    if response.status_code >= 500:
                        errors.append(
                            f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{response.text[:200]}"
                        )

                call()
    assert calls[0] >= 3 * EXAMPLES  # it did call the API
    # the document's patterns (phone, plate) lead valid examples past the validation
    assert created, "no generated example made a grievance"
    assert errors == []
