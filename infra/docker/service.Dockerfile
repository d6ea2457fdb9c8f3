# syntax=docker/dockerfile:1
# One ML service release: its code and one trained artifact folder at /model, so the image digest
# names the model and the code together (a release, DESIGN 5). One uvicorn worker (services.common.cli).
# Build from the repository root, after training:
#   docker build -f infra/docker/service.Dockerfile --build-arg SERVICE=bankchurn \
#     --build-arg ARTIFACT=artifacts/bankchurn .
# The base is pinned by digest; CI re-resolves it before building (deploy.yml, "verify base").
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv PIP_NO_CACHE_DIR=1
RUN pip install uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY controlplane ./controlplane
COPY services ./services
COPY agents ./agents
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG ARTIFACT
RUN test -n "${SERVICE}" && test -n "${ARTIFACT}" \
    && groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY --chown=root:root ${ARTIFACT} /model
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 SERVICE=${SERVICE}
USER 10001:10001
EXPOSE 8000
# exec form through sh only to expand SERVICE; `exec` keeps python as PID 1 for SIGTERM.
ENTRYPOINT ["/bin/sh", "-c", "exec python -m services.${SERVICE} \"$@\"", "--"]
CMD ["--host", "0.0.0.0", "--port", "8000", "--artifact", "/model"]
