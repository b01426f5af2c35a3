# Earshot on Apache Airflow 3: one image for the Airflow components, Earshot's web UI and
# the init service of docker-compose.yml.
#
#   docker build -t earshot:local .
#
# Based on the official Airflow image, so `airflow` and its entrypoint behave as documented
# (https://airflow.apache.org/docs/docker-stack/). Earshot is installed with the
# Elasticsearch extra and the Airflow Elasticsearch provider; its DAG files go to the
# image's DAG folder. No secret is baked in: everything comes from the environment.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# torch is pinned in pyproject.toml; the CPU wheel keeps the image free of CUDA (GBs).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

USER airflow
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

COPY --chown=airflow:0 pyproject.toml README.md /opt/earshot/
COPY --chown=airflow:0 monitor /opt/earshot/monitor
COPY --chown=airflow:0 sentiment /opt/earshot/sentiment
# apache-airflow is named again so pip keeps the image's Airflow instead of re-resolving it.
RUN pip install --no-cache-dir \
        "apache-airflow==${AIRFLOW_VERSION}" \
        "/opt/earshot[elasticsearch]" \
        "apache-airflow-providers-elasticsearch>=6.10"

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 dashboards/ /opt/earshot/dashboards/
COPY --chown=airflow:0 deploy/ /opt/earshot/deploy/

# Created here, owned by airflow, so the named volume mounted on it is writable.
RUN mkdir -p /opt/airflow/earshot-data

ENV EARSHOT_CONFIG=/opt/earshot/deploy/earshot.yaml \
    EARSHOT_HOME=/opt/airflow/earshot-data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

WORKDIR /opt/airflow
