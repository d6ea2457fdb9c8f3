"""The Dockerfiles, parsed (no Docker engine runs here, so nothing is built in this suite):
multi-stage from a digest-pinned base, installed from uv.lock, non-root, no secrets baked in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import REPO, by_kind

DOCKER = REPO / "infra" / "docker"
FILES = sorted(DOCKER.glob("*.Dockerfile"))
SECRET_NAMES = re.compile(r"(TOKEN|SECRET|PASSWORD|PRIVATE|CREDENTIAL|API_KEY|SIGNING)", re.I)


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (the global ARGs before the first FROM dropped)."""
    out: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def _args(path: Path) -> dict[str, str]:
    found = {}
    for word, rest in instructions(path):
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            found[name] = value
    return found


def test_there_is_one_for_the_plane_and_one_for_the_services() -> None:
    """controlplane.Dockerfile and service.Dockerfile (SERVICE selects bankchurn, ...)."""
    assert [p.name for p in FILES] == ["controlplane.Dockerfile", "service.Dockerfile"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_multi_stage_from_a_digest_pinned_base(path: Path) -> None:
    """Two stages at least, every base named by digest (after ARG defaults are applied)."""
    args = _args(path)
    bases = [rest.split()[0] for word, rest in instructions(path) if word == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), base)
        assert re.search(r"@sha256:[0-9a-f]{64}$", resolved), base


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dependencies_come_from_the_lock(path: Path) -> None:
    """uv.lock is copied and `uv sync --frozen` installs from it (no resolution at build time)."""
    text = path.read_text()
    assert re.search(r"COPY [^\n]*uv\.lock", text)
    syncs = [rest for word, rest in instructions(path) if word == "RUN" and "uv sync" in rest]
    assert syncs and all("--frozen" in s for s in syncs)
    assert "pip install uv==" in text  # the Makefile's pinned uv, not whatever is newest


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_runs_as_the_non_root_user_the_manifests_expect(
    path: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """The final stage ends as uid 10001, the manifests' runAsUser; exec-form entrypoint."""
    final = stages(path)[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    uid = int(users[-1].split(":")[0])
    for dep in by_kind(rendered["production"], "Deployment").values():
        assert dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid
    [entrypoint] = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entrypoint.startswith("[")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_secrets_in_the_image(path: Path) -> None:
    """No ENV/ARG that looks like a secret, no key or token copied, and the build context
    (<Dockerfile>.dockerignore) leaves out .git, the plane's state folder, keys and tokens."""
    for word, rest in instructions(path):
        if word in ("ENV", "ARG"):
            assert not SECRET_NAMES.search(rest), rest
        if word in ("COPY", "ADD"):
            assert not re.search(r"\.(key|pem|token)\b|\.env\b|\.controlplane", rest), rest
    ignored = Path(f"{path}.dockerignore").read_text().split()
    assert {".git", ".controlplane", "**/*.token", "**/*.key", "**/.env"} <= set(ignored)


def test_entrypoints_match_the_manifests(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The plane's image runs `opsctl up --no-services` on 8700; a service image runs
    `python -m services.<SERVICE>` on 8000 with its model at /model, as the Deployments say."""
    plane = dict(stages(DOCKER / "controlplane.Dockerfile")[-1])
    assert plane["ENTRYPOINT"] == '["opsctl"]' and plane["EXPOSE"] == "8700"
    service = dict(stages(DOCKER / "service.Dockerfile")[-1])
    assert "exec python -m services.${SERVICE}" in service["ENTRYPOINT"]
    assert service["EXPOSE"] == "8000"
    deps = by_kind(rendered["production"], "Deployment")
    assert deps["controlplane"]["spec"]["template"]["spec"]["containers"][0]["args"][:2] == [
        "up",
        "--no-services",
    ]
    args = deps["bankchurn"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert (
        args[args.index("--artifact") + 1] == "/model" and args[args.index("--port") + 1] == "8000"
    )


def test_the_parser_sees_through_continuations() -> None:
    """A RUN split over lines is one instruction (so the checks above read whole commands)."""
    runs = [rest for word, rest in instructions(DOCKER / "service.Dockerfile") if word == "RUN"]
    assert any("groupadd" in r and "useradd" in r for r in runs)
