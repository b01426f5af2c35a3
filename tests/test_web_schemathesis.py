"""The JSON API fuzzed from its own OpenAPI schema: no input may make it answer 5xx.

Schemathesis reads `/openapi.json` from the real app (in process, over ASGI) and
generates requests for every operation: ones that fit the schema and ones that break
it (wrong types, missing and extra fields, odd strings), authenticated with the bearer
token; then it chains operations statefully (list alerts, act on one, read its trail)
through the links it infers from the schema. The one check is `not_a_server_error`:
a client's mistake must be a 4xx, never a crash. Every failure is collected rather
than stopping at the first, and the summary (operations, requests, failures) is
printed and kept in test-artifacts/schemathesis-summary.txt.

Runs are derandomized (the same requests each time), so this is a regression test,
not a lottery; raise EXAMPLES locally to search harder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from monitor import pipeline
from monitor.store import SQLiteStore
from monitor.web import create_app
from tests.conftest import KeywordScorer, demo_config

pytestmark = pytest.mark.slow

TOKEN = "schemathesis-token-2d7e91"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 100  # per operation and mode (valid / invalid input)
STATEFUL_EXAMPLES = 50  # sequences of linked calls
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Tally:
    """What was sent and what broke, for the summary and the assertion."""

    operations: set[str] = field(default_factory=set)
    requests: Counter[str] = field(default_factory=Counter)  # per phase
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def call(self, case, phase: str):
        """Send `case` with the token and check the answer; a failure is recorded, not raised."""
        self.requests[phase] += 1
        self.operations.add(case.operation.label)
        response = case.call(headers=AUTH)
        self.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as exc:  # noqa: BLE001 - schemathesis raises a group of failed checks
            self.failures.append(f"[{phase}] {case.operation.label}: {str(exc)[:1500]}")
        return response

    def summary(self) -> str:
        lines = [f"schemathesis {schemathesis.__version__}: {len(self.operations)} operations, "
                 f"{sum(self.requests.values())} requests ({', '.join(f'{k} {v}' for k, v in self.requests.items())}), "
                 f"{len(self.failures)} failures",
                 "statuses: " + ", ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items())),
                 "operations: " + ", ".join(sorted(self.operations))]
        return "\n".join(lines + self.failures)


SETTINGS = dict(deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))


@pytest.fixture
def app(tmp_path: Path):
    config = demo_config(tmp_path)
    store = SQLiteStore(config.resolve(config.store.path))
    pipeline.run_once(config, store, scorer=KeywordScorer(), channels=[])
    yield create_app(config, store, environ={"EARSHOT_WEB_TOKEN": TOKEN})
    store.close()


def _stateless(schema, tally: Tally) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, tally)
            except Unsatisfiable:  # no invalid input exists (an operation without parameters)
                pass


def _fuzz(operation, mode: GenerationMode, tally: Tally) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, **SETTINGS)
    def run(case) -> None:
        tally.call(case, mode.value)

    run()


def _stateful(schema, tally: Tally) -> None:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def call(self, case, **kwargs):
            return tally.call(case, "stateful")  # its response feeds the next linked call

        def validate_response(self, response, case, **kwargs) -> None:
            pass  # checked in tally.call

    Workflow.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, **SETTINGS))


def test_no_request_makes_the_api_answer_a_server_error(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    tally = Tally()
    _stateless(schema, tally)
    _stateful(schema, tally)
    summary = tally.summary()
    print("\n" + summary)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "schemathesis-summary.txt").write_text(summary + "\n", encoding="utf-8")
    assert tally.requests["positive"] and tally.requests["negative"] and tally.requests["stateful"]
    assert tally.operations == {result.ok().label for result in schema.get_all_operations()}  # all reached
    assert not tally.failures, summary
