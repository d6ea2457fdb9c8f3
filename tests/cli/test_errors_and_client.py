"""Error paths people hit first, the client's error mapping, and a light `opsctl --help`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from controlplane.client import ControlPlaneClient, admin_token_path, default_url
from controlplane.errors import InvalidSpec, NotFound, Unauthenticated, Unavailable

from .conftest import REPO, Opsctl

HEAVY = ("fastapi", "sqlalchemy", "sqlmodel", "sklearn", "uvicorn", "controlplane.db")


def test_no_token_exits_1_and_says_how_to_get_one(opsctl: Opsctl, tmp_path: Path) -> None:
    result = opsctl("decide", "deploy", "--env", "dev", token=None)
    assert result.exit_code == 1
    assert "error (unauthenticated): missing bearer token" in result.stderr
    assert "CONTROLPLANE_TOKEN" in result.stderr and "admin.token" in result.stderr


def test_admin_token_file_is_the_fallback(plane_url: str, admin_token: str, tmp_path: Path) -> None:
    state = tmp_path / "state-for-cli"
    state.mkdir()
    (state / "admin.token").write_text(admin_token + "\n")
    env = {"CONTROLPLANE_URL": plane_url, "CONTROLPLANE_STATE_DIR": str(state)}
    with ControlPlaneClient.from_env(env) as client:
        assert client.whoami()["name"] == "admin"
        assert client.token_source == str(state / "admin.token")


def test_a_token_with_surrounding_whitespace_works(opsctl: Opsctl, admin_token: str) -> None:
    result = opsctl("whoami", token=f"  {admin_token} \n")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("admin ")


def test_an_empty_token_is_refused_and_never_falls_back_to_the_admin_file(
    plane_url: str, admin_token: str, tmp_path: Path
) -> None:
    (tmp_path / "admin.token").write_text(admin_token)
    env = {"CONTROLPLANE_URL": plane_url, "CONTROLPLANE_STATE_DIR": str(tmp_path)}
    for empty in ("", "  "):
        with pytest.raises(Unauthenticated, match="CONTROLPLANE_TOKEN is set but empty"):
            ControlPlaneClient.from_env({**env, "CONTROLPLANE_TOKEN": empty})


def test_an_empty_token_at_the_command_line_says_so(opsctl: Opsctl) -> None:
    result = opsctl("whoami", token="")
    assert result.exit_code == 1
    assert "CONTROLPLANE_TOKEN is set but empty" in result.stderr
    as_json = opsctl("whoami", "--json", token=" ")
    assert json.loads(as_json.stdout)["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "bad", ["cpt_abcdefghij klmnopqrstuv", "cpt_abcdefghij\nklmnopqrs", "cpt_é"]
)
def test_no_error_prints_the_token(opsctl: Opsctl, bad: str) -> None:
    for args in (("whoami",), ("signals", "list", "--json")):
        result = opsctl(*args, token=bad)
        assert result.exit_code == 1
        assert bad not in result.output and bad.strip().split()[0] not in result.output
        assert "cannot reach" not in result.output
        assert "cannot be sent" in result.output


def test_a_wrong_token_is_not_echoed(opsctl: Opsctl) -> None:
    wrong = "cpt_" + "w" * 40
    result = opsctl("whoami", token=wrong)
    assert result.exit_code == 1 and "error (unauthenticated)" in result.stderr
    assert wrong not in result.output


def test_plane_down_tells_to_run_opsctl_up(offline_opsctl: Opsctl) -> None:
    result = offline_opsctl("signals", "list")
    assert result.exit_code == 1
    assert "cannot reach the control plane" in result.stderr
    assert "start it with `opsctl up`" in result.stderr


def test_usage_errors_exit_2(offline_opsctl: Opsctl) -> None:
    assert offline_opsctl("decide", "deploy").exit_code == 2  # --env missing
    assert offline_opsctl("decide", "deploy", "--env", "dev", "-c", "novalue").exit_code == 2
    assert offline_opsctl("token", "create", "x", "--kind", "robot").exit_code == 2


def test_help_lists_the_nouns(offline_opsctl: Opsctl) -> None:
    result = offline_opsctl("--help")
    assert result.exit_code == 0
    for noun in ("up", "decide", "signals", "policy", "audit", "incidents", "token", "whoami"):
        assert noun in result.stdout


def _modules_after(code: str) -> set[str]:
    """Run code in a fresh interpreter and return the top modules it loaded."""
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_help_does_not_import_the_server_stack() -> None:
    code = (
        "from typer.testing import CliRunner\nfrom controlplane.cli.main import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0"
    )
    loaded = _modules_after(code)
    assert not [m for m in loaded if m.startswith(HEAVY)]


def test_the_client_is_importable_without_the_server_stack() -> None:
    loaded = _modules_after("import controlplane.client")
    assert not [m for m in loaded if m.startswith(HEAVY)]


def test_client_maps_error_envelopes_back_to_classes(plane_url: str, admin_token: str) -> None:
    with ControlPlaneClient(plane_url, admin_token) as client:
        with pytest.raises(InvalidSpec) as unknown:
            client.set_signal("nope", ttl="5m", reason="typo here")
        assert unknown.value.details["errors"][0]["field"] == "path.name"
        with pytest.raises(NotFound):
            client.get_decision("0" * 32)
        with pytest.raises(InvalidSpec) as invalid:  # FastAPI's own 422 keeps its code
            client.decide("deploy", "moon")
        assert invalid.value.code == "invalid_request"
        assert "environment" in invalid.value.message
    with ControlPlaneClient(plane_url, "cpt_wrong") as client, pytest.raises(Unauthenticated):
        client.whoami()


def test_the_client_refuses_a_token_no_header_can_carry() -> None:
    with pytest.raises(Unauthenticated) as refused:
        ControlPlaneClient("http://127.0.0.1:9", "cpt_secret value", token_source="a test")
    assert "the token from a test holds whitespace at position 11" in refused.value.message
    assert "secret" not in refused.value.message + str(refused.value.details)


def test_client_reports_a_plane_that_is_not_there() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = ControlPlaneClient("http://127.0.0.1:9", "t", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unavailable, match="opsctl up"):
        client.healthz()


def test_default_url_and_token_path_follow_the_plane_settings() -> None:
    assert default_url({}) == "http://127.0.0.1:8700"
    assert default_url({"CONTROLPLANE_PORT": "8800"}) == "http://127.0.0.1:8800"
    assert default_url({"CONTROLPLANE_URL": "http://x:1/"}) == "http://x:1"
    assert admin_token_path({}) == Path(".controlplane/admin.token")
    assert admin_token_path({"CONTROLPLANE_STATE_DIR": "/s"}) == Path("/s/admin.token")
