"""Pipeline health: hear about the pipeline failing, not only about customers complaining.

| module | what |
|---|---|
| settings.py | `health` in the config: the thresholds (pydantic only) |
| checks.py | the checks as pure functions over a source's or a channel's history |
| monitor.py | the state kept in the store, episodes (one alert per incident), raising and delivering |
| airflow.py | Airflow callbacks (`on_failure_callback` ...) and the fail-fast boundary for DAG tasks |
| runner.py | one supervised pass of the embedded `earshot run`: each source isolated, health checked |

Health alerts are ordinary `Alert`s of kind `health` (brand `PIPELINE`), stored and
delivered like mention alerts, so they reach the same channels and show in the inbox;
each channel's `route.health` decides which it receives.
"""

from __future__ import annotations

from monitor.health.settings import HealthConfig

__all__ = ["HealthConfig"]
