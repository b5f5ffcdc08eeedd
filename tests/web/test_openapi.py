"""The API against its own OpenAPI document: generated requests never get a 5xx.

schemathesis generates requests for every operation from the document; the test is
bounded (a few examples per operation, per role) so that it fits the suite's time.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.web.conftest import Site

EXAMPLES = 12


def test_the_openapi_document_is_served_and_describes_the_api(site: Site) -> None:
    doc = site.anonymous().get("/api/openapi.json").json()

    assert doc["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in doc["paths"])
    # Pages are not part of the API document.
    assert not any(path.startswith(("/partner", "/staff", "/login")) for path in doc["paths"])


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(site: Site) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", site.app)
    tokens = {
        user: site.api(user).headers["Authorization"] for user in ("a_editor", "a_admin", "manager")
    }
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), user=st.sampled_from(sorted(tokens)))
        def run(case: schemathesis.Case, user: str) -> None:
            case.headers = {**(case.headers or {}), "Authorization": tokens[user]}
            response = case.call()
            case.validate_response(response, checks=(not_a_server_error,))

        try:
            run()
        # schemathesis raises a BaseExceptionGroup; every operation is tried, failures reported.
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {type(exc).__name__}: {exc}".splitlines()[0])
    assert failures == []
