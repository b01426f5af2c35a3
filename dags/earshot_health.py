"""Airflow DAG `earshot_health`: pipeline-health checks (silent sources, growing outboxes) on a schedule.

Thin on purpose; the DAG is built in `monitor.health.dag`.
"""

from monitor.health.dag import build_health_dag

earshot_health = build_health_dag()
