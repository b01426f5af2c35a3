"""Airflow DAG `earshot_process`: score -> detect -> notify, run when new mentions are stored.

Thin on purpose; the DAG is built in `monitor.orchestration`.
"""

from monitor.orchestration import build_process_dag

earshot_process = build_process_dag()
