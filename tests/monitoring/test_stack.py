"""`opsctl up --monitoring`: a real Prometheus and Alertmanager started, checked and stopped."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import yaml

from controlplane.adapters.workload.local_process import pid_alive
from controlplane.monitoring import config
from controlplane.monitoring.stack import MonitoringStack, free_port, missing_binaries

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.monitoring
T = TypeVar("T")


def _need_both() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} not installed "
            "(apt-get install prometheus prometheus-alertmanager; CI does)"
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[MonitoringStack]:
    _need_both()
    started = MonitoringStack(
        tmp_path / "state", plane_url=f"http://127.0.0.1:{free_port()}"
    ).start()
    try:
        yield started
    finally:
        started.stop()


def _eventually(read: Callable[[], T], timeout_s: float = 10) -> T:
    """`read()` once it is non-empty (Prometheus discovers and loads in the background)."""
    deadline = time.monotonic() + timeout_s
    while not (value := read()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _rule_groups(url: str) -> set[str]:
    def read() -> set[str]:
        groups = httpx.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        return {g["name"] for g in groups}

    return _eventually(read)


def test_the_stack_serves_both_on_loopback_with_the_ops_rules_and_the_token(
    stack: MonitoringStack, tmp_path: Path
) -> None:
    assert stack.prometheus_url.startswith("http://127.0.0.1:")
    assert stack.alertmanager_url.startswith("http://127.0.0.1:")
    assert {"slo-windows", "slo-long-windows", "slo-alerts", "services"} <= _rule_groups(
        stack.prometheus_url
    )

    token_file = (tmp_path / "state").resolve() / config.TOKEN_FILE
    assert stack.token_file == token_file
    assert token_file.read_text().strip() == stack.token and len(stack.token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    status = httpx.get(f"{stack.alertmanager_url}/api/v2/status", timeout=5).json()
    loaded = yaml.safe_load(status["config"]["original"])
    (receiver,) = [r for r in loaded["receivers"] if r["name"] == config.RECEIVER]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"] == stack.plane_url + config.WEBHOOK_PATH
    assert hook["http_config"]["authorization"]["credentials_file"] == str(token_file)
    assert status["cluster"]["status"] == "disabled"

    def active() -> list[str]:
        am = httpx.get(f"{stack.prometheus_url}/api/v1/alertmanagers", timeout=5).json()
        return [a["url"] for a in am["data"]["activeAlertmanagers"]]

    assert _eventually(active) == [f"{stack.alertmanager_url}/api/v2/alerts"]


def test_prometheus_follows_the_ports_the_backend_hands_out(stack: MonitoringStack) -> None:
    stack.follow(every_s=0.2)
    workloads = stack.state_dir / "workloads"
    workloads.mkdir(parents=True)
    (workloads / "state.json").write_text(
        json.dumps({"targets": {"bankchurn/dev": {"front_port": 18800}}})
    )

    def scraped() -> set[str]:
        data = httpx.get(f"{stack.prometheus_url}/api/v1/targets", timeout=5).json()["data"]
        found = {t["labels"].get("instance") for t in data["activeTargets"]}
        return found if "127.0.0.1:18800" in found else set()

    assert "127.0.0.1:18800" in _eventually(scraped)


def test_stop_leaves_no_process_and_keeps_the_token(tmp_path: Path) -> None:
    _need_both()
    state = tmp_path / "state"
    first = MonitoringStack(state, plane_url="http://127.0.0.1:1").start()
    pids = first.pids()
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)
    assert first.stop() == 2
    assert not any(pid_alive(p) for p in pids)
    assert first.stop() == 0  # idempotent
    again = MonitoringStack(state, plane_url="http://127.0.0.1:1")
    assert again.token == first.token  # the plane and Alertmanager keep agreeing across restarts


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLPLANE_")}
    return env | {
        "CONTROLPLANE_PORT": str(free_port()),
        "CONTROLPLANE_STATE_DIR": str(tmp_path / "state"),
        "CONTROLPLANE_POLICY_DIR": str(REPO / "policies"),
        "CONTROLPLANE_AUDIT_WRITER": "thread",
        "PYTHONPATH": str(REPO),
        **extra,
    }


def test_up_monitoring_without_the_binaries_fails_with_the_apt_hint(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "controlplane.cli.main", "up", "--monitoring", "--no-services"],
        cwd=tmp_path,
        env=_env(tmp_path, PATH=str(empty)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "apt-get install prometheus prometheus-alertmanager" in result.stderr
    assert "prometheus" in result.stderr and "not found on PATH" in result.stderr


def test_up_with_monitoring_lists_both_and_stops_them(tmp_path: Path) -> None:
    _need_both()
    proc = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli.main", "up", "--no-services", "--json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["prometheus"].startswith("http://127.0.0.1:")
        assert info["alertmanager"].startswith("http://127.0.0.1:")
        assert info["error_budget_exhausted"] == "enabled"
        assert httpx.get(f"{info['prometheus']}/-/ready", timeout=5).status_code == 200
        pid_file = tmp_path / "state" / "monitoring"
        assert (pid_file / "prometheus" / "prometheus.yml").exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        _, err = proc.communicate(timeout=5)
        assert "monitoring (2 of prometheus, alertmanager) stopped" in err
        for url in (info["prometheus"], info["alertmanager"]):
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"{url}/-/ready", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_banner_says_why_error_budget_exhausted_is_disabled() -> None:
    from controlplane.cli.up import render_banner

    base = {"url": "u", "docs": "d", "dashboard": None, "admin_token_file": "f"}
    base |= {"admin_token": None, "env": {}, "try": []}
    off = base | {
        "prometheus": None,
        "alertmanager": None,
        "error_budget_exhausted": "disabled: no Prometheus (--no-monitoring)",
    }
    assert "error_budget_exhausted is disabled: no Prometheus (--no-monitoring)" in (
        render_banner(off)
    )
    on = base | {"prometheus": "http://p", "alertmanager": "http://a"}
    text = render_banner(on | {"error_budget_exhausted": "enabled"})
    assert "prometheus   http://p" in text and "alertmanager http://a" in text
    assert "error_budget_exhausted" not in text
