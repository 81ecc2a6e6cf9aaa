"""Schemathesis against /api/openapi.json (in process, fixed seed, bounded examples): for
every operation, cases the schema allows and cases it forbids (wrong types, missing or
extra fields): no 5xx, every error is {"error": ...}, nosniff on every answer."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402  (installed with schemathesis)
from hypothesis import seed as fixed_seed  # noqa: E402

from bot.server import build_app  # noqa: E402
from bot.service import ChatService  # noqa: E402
from tests.helpers import tiny_bot  # noqa: E402

EXAMPLES = 50  # per operation and mode: 11 runs, ~10 s on 2 busy cores


@pytest.fixture(scope="module")
def schema():
    service = ChatService(tiny_bot(k=3))
    service.self_test()
    return schemathesis.openapi.from_asgi("/api/openapi.json", build_app(service, ui=False))


OPERATIONS = [("/api/sessions", "POST"), ("/api/chat", "POST"), ("/api/feedback", "POST"),
              ("/api/rate", "POST"), ("/api/reset", "POST"), ("/api/health", "GET")]


def test_the_list_covers_the_schema(schema):
    assert sorted(OPERATIONS) == sorted((p, m.upper()) for p, ms in schema.raw_schema["paths"].items() for m in ms)


@pytest.mark.parametrize("path, method, mode", [(p, m, mode) for p, m in OPERATIONS for mode in ("positive", "negative")
                                                if m == "POST" or mode == "positive"])  # GET has nothing to break
def test_no_server_errors(schema, path, method, mode):
    strategy = schema[path][method].as_strategy(generation_mode=schemathesis.GenerationMode(mode))
    statuses: list[int] = []

    @fixed_seed(16)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case):
        statuses.append(0)
        response = case.call()
        statuses[-1] = response.status_code
        assert response.status_code < 500, response.text[:300]
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text[:300]
        assert response.headers.get("x-content-type-options") == ["nosniff"]
    check()
    print(f"{method} {path} {mode}: {len(statuses)} calls, statuses {sorted(set(statuses))}")
    assert len(statuses) >= (1 if method == "GET" else 20)  # the run really exercised the route
