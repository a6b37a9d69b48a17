# The spofless operator image: `docker build -t spofless:dev .`
# Runs as uid 10001 on a read-only root filesystem; the Helm chart (manifests/) mounts an emptyDir at /tmp.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/spofless
WORKDIR /src
# Only what the package build needs (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md ./
COPY operator/ operator/
# As the README installs it: `pip install .`, here into the venv that the final stage copies.
# pip compiles the .pyc files now, so nothing needs writing at run time.
RUN /opt/spofless/bin/pip install . && /opt/spofless/bin/spofless version

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="spofless" \
      org.opencontainers.image.description="A Kubernetes operator that keeps a web site from standing on a single pillar" \
      org.opencontainers.image.licenses="Apache-2.0"
# A passwd entry for uid 10001: kopf reads the user's name (getpass) for its identity at start-up.
RUN groupadd --gid 10001 spofless \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin spofless
COPY --from=builder /opt/spofless /opt/spofless
ENV PATH=/opt/spofless/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
WORKDIR /tmp
# 8080: liveness (/healthz); 9090: Prometheus metrics (/metrics).
EXPOSE 8080 9090
ENTRYPOINT ["spofless", "run"]
