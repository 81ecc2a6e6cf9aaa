"""Schemathesis against /api/openapi.json (in process, fixed seed, bounded examples): for
every operation, cases the schema allows and cases it forbids (wrong types, missing or
extra fields): no 5xx, every error is {"error": ...} as the schema documents it, statuses
and content types as documented, nosniff on every answer. Schemathesis's own checks run
too, except "schema-valid data is accepted": a well-formed unknown user id is a 400.

Marked slow (13 runs of 50 generated cases); the default suite sends the fixed bad-input
corpus through the same app (tests/test_bad_inputs.py) with the same no-5xx, {"error": ...}
and nosniff checks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402  (installed with schemathesis)
from hypothesis import seed as fixed_seed  # noqa: E402

from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from bot.service.server import build_app  # noqa: E402
from bot.service.chatservice import ChatService  # noqa: E402
from tests.helpers import tiny_bot  # noqa: E402

EXAMPLES = 50  # per operation and mode: 13 runs, ~12 s on 2 busy cores


@pytest.fixture(scope="module")
def served():
    """The schema, and a live session whose id and token half the positive cases use, so
    that the 200 paths are exercised too (random ids are all refused with 403)."""
    from fastapi.testclient import TestClient

    service = ChatService(tiny_bot(k=3))
    service.self_test()
    app = build_app(service, ui=False)
    live = TestClient(app).post("/api/chat", json={"message": "a funny cartoon"}).json()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    # a body over the 64 KB cap (a message far past its maxLength) is refused by the guard
    # with the documented 413 before the schema is read: a rejection like 422
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]  # a new list: the default is shared
    return schema, live["session_id"], live["token"]


@pytest.fixture(scope="module")
def schema(served):
    return served[0]


OPERATIONS = [("/api/sessions", "POST"), ("/api/chat", "POST"), ("/api/feedback", "POST"),
              ("/api/rate", "POST"), ("/api/reset", "POST"), ("/api/health", "GET"),
              ("/api/admin/catalog", "POST")]


def test_the_list_covers_the_schema(schema):
    assert sorted(OPERATIONS) == sorted((p, m.upper()) for p, ms in schema.raw_schema["paths"].items() for m in ms)


@pytest.mark.parametrize("path, method, mode", [(p, m, mode) for p, m in OPERATIONS for mode in ("positive", "negative")
                                                if m == "POST" or mode == "positive"])  # GET has nothing to break
def test_no_server_errors(served, path, method, mode):
    schema, sid, token = served
    strategy = schema[path][method].as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    statuses: list[int] = []

    @fixed_seed(16)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case):
        statuses.append(0)
        own = mode == "positive" and isinstance(case.body, dict) and "session_id" in case.body \
            and len(statuses) % 2 == 0
        if own:
            case.body["session_id"] = sid
        response = case.call_and_validate(headers={"X-Session-Token": token} if own else None,
                                          excluded_checks=[positive_data_acceptance])
        statuses[-1] = response.status_code
        assert response.status_code < 500, response.text[:300]
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text[:300]
        assert response.headers.get("x-content-type-options") == ["nosniff"]
    check()
    print(f"{method} {path} {mode}: {len(statuses)} calls, statuses {sorted(set(statuses))}")
    assert len(statuses) >= (1 if method == "GET" else 20)  # the run really exercised the route
