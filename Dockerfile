# syntax=docker/dockerfile:1
# opscopilot's image: `docker build -t opscopilot .` (docs/operations.md).
# Multi-stage: dependencies and the embedding model are fetched and exported in `build`; the
# runtime stage copies the finished virtualenv and the baked model cache, runs as a non-root
# user, and needs no network at start (HF_HUB_OFFLINE, the ONNX model already exported).

ARG PYTHON=python:3.12-slim-bookworm

FROM ${PYTHON} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPSCOPILOT_CACHE_DIR=/opt/opscopilot/cache
RUN python -m venv /opt/opscopilot/venv
ENV PATH=/opt/opscopilot/venv/bin:$PATH
WORKDIR /src
# torch first and pinned, as the Makefile does (a bare requirement pulls a CUDA build).
RUN pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY infra infra
COPY knowledge knowledge
COPY tools tools
COPY bot bot
COPY evals evals
RUN pip install .
# The model baked in: exported to ONNX once, into the cache the runtime reads.
RUN python -m knowledge.onnx_export \
 && test -n "$(ls /opt/opscopilot/cache/onnx/*.onnx)"

FROM ${PYTHON} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} opscopilot \
 && useradd --system --uid ${UID} --gid ${UID} --home-dir /var/lib/opscopilot \
      --shell /usr/sbin/nologin opscopilot \
 && install -d -o opscopilot -g opscopilot /var/lib/opscopilot
COPY --from=build /opt/opscopilot/venv /opt/opscopilot/venv
COPY --from=build --chown=opscopilot:opscopilot /opt/opscopilot/cache /opt/opscopilot/cache
ENV PATH=/opt/opscopilot/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    OPSCOPILOT_CACHE_DIR=/opt/opscopilot/cache \
    OPSCOPILOT_DATA_DIR=/var/lib/opscopilot \
    OPSCOPILOT_SLACK__MODE=http \
    OPSCOPILOT_SLACK__HOST=0.0.0.0 \
    OPSCOPILOT_SLACK__PORT=3000 \
    OPSCOPILOT_TELEMETRY__JSON_LOGS=true
USER opscopilot:opscopilot
WORKDIR /var/lib/opscopilot
VOLUME ["/var/lib/opscopilot"]
EXPOSE 3000
# /healthz: 503 while loading, 200 once ready (bot/slack/asgi.py); /metrics beside it.
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:3000/healthz', timeout=2)"]
ENTRYPOINT ["opscopilot"]
CMD ["serve", "--mode", "http"]
