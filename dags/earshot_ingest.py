"""Airflow DAGs `earshot_ingest_<source>`: one per source enabled in the Earshot config.

Thin on purpose; the DAGs are built in `monitor.orchestration`. The config comes from
`$EARSHOT_CONFIG` (else ./earshot.yaml, else the bundled demo).
"""

from monitor.orchestration import build_ingest_dags

globals().update(build_ingest_dags())
