# syntax=docker/dockerfile:1
# The control plane: `opsctl up` (one uvicorn worker) with policies/, playbooks/ and infra/k8s/
# (the Kubernetes backend renders the environment's overlay from /app/infra/k8s).
# Build from the repository root: docker build -f infra/docker/controlplane.Dockerfile .
# The base is pinned by digest; CI re-resolves it before building (deploy.yml, "verify base").
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv PIP_NO_CACHE_DIR=1
RUN pip install uv==0.13.8
WORKDIR /app
# Dependencies first, from the lock only (a cached layer while uv.lock is unchanged).
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY controlplane ./controlplane
COPY services ./services
COPY agents ./agents
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY --chown=root:root policies ./policies
COPY --chown=root:root playbooks ./playbooks
COPY --chown=root:root infra/k8s ./infra/k8s
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    CONTROLPLANE_STATE_DIR=/var/lib/controlplane
USER 10001:10001
EXPOSE 8700
ENTRYPOINT ["opsctl"]
CMD ["up", "--no-services"]
