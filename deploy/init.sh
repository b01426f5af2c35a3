#!/usr/bin/env bash
# The Compose stack's one-shot init service. Every step is idempotent, so
# `docker compose up` can run it again at each start.
set -euo pipefail

echo "[1/4] Elasticsearch users: kibana_system password, Earshot's least-privilege user"
python -m monitor.indexing bootstrap-security

echo "[2/4] Index templates, ILM policy and indices"
earshot index setup

if [[ "${EARSHOT_LOAD_DEMO:-false}" == "true" ]]; then
  echo "[3/4] Loading the bundled demo (EARSHOT_LOAD_DEMO=true)"
  earshot run --once
else
  echo "[3/4] Demo data skipped (EARSHOT_LOAD_DEMO is not true)"
fi

echo "[4/4] Kibana dashboards"
python /opt/earshot/dashboards/import.py --wait 600 --index-prefix "${EARSHOT_INDEX_PREFIX:-earshot}"
