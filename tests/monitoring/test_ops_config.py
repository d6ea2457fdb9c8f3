"""ops/ is code: promtool and amtool accept it, its unit tests pass, it is what the renderer makes,
and every series its rules read is one that the services or the plane really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from controlplane.handoff.invariants import KNOWN_SERVICES
from controlplane.monitoring import config, files
from services.common.serving import ServeSettings

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
PROMETHEUS_YML = OPS / "prometheus" / "prometheus.yml"
ALERTMANAGER_YML = OPS / "alertmanager" / "alertmanager.yml"
RULE_FILES = sorted((OPS / "prometheus" / "rules").glob("*.yml"))
TEST_FILES = sorted((OPS / "prometheus" / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "monitoring.md"
PROMTOOL, AMTOOL = shutil.which("promtool"), shutil.which("amtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus; CI does)"
)
TARGET_LABELS = {"job", "instance", "service", "environment"}  # added by the scrape config
BUILTIN_SERIES = {"up"}  # written by Prometheus for every target
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
PROMQL_WORDS |= {"and", "or", "unless", "inf", "nan"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)


def _rules() -> list[dict[str, Any]]:
    return [
        r for f in RULE_FILES for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]
    ]


def _alerts() -> list[dict[str, Any]]:
    return [r for r in _rules() if "alert" in r]


# --- the tools accept the files --------------------------------------------------------------


@needs_promtool
def test_promtool_accepts_the_prometheus_config_and_its_rule_files() -> None:
    result = _run(str(PROMTOOL), "check", "config", str(PROMETHEUS_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = _run(str(PROMTOOL), "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def unit_runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every promtool test file started at once (each takes a second or two, mostly waiting)."""
    if PROMTOOL is None:
        pytest.skip("promtool not installed (apt-get install prometheus; CI does)")
    procs = {
        f.name: subprocess.Popen(
            [PROMTOOL, "test", "rules", str(f)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        for f in TEST_FILES
    }
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.mark.parametrize("name", [f.name for f in TEST_FILES])
def test_promtool_unit_tests_pass(unit_runs: dict[str, subprocess.Popen[str]], name: str) -> None:
    out, _ = unit_runs[name].communicate(timeout=120)
    assert unit_runs[name].returncode == 0, out


@pytest.mark.skipif(
    AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)"
)
def test_amtool_accepts_the_alertmanager_config() -> None:
    result = _run(str(AMTOOL), "check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr


# --- the committed files are what the code renders --------------------------------------------


def test_committed_files_are_what_the_renderer_makes() -> None:
    rendered = files.committed()
    hint = "ops/ is out of date: run `python -m controlplane.monitoring.files`"
    assert PROMETHEUS_YML.read_text() == rendered.prometheus, hint
    assert ALERTMANAGER_YML.read_text() == rendered.alertmanager, hint


def test_every_target_has_service_and_environment_labels() -> None:
    scrape = yaml.safe_load(PROMETHEUS_YML.read_text())["scrape_configs"]
    groups = [g for job in scrape for g in job["static_configs"]]
    assert {tuple(sorted(g["labels"])) for g in groups} == {("environment", "service")}
    services = {(g["labels"]["service"], g["labels"]["environment"]) for g in groups}
    assert services == {(s, e) for s in KNOWN_SERVICES for e in config.ENVIRONMENTS} | {
        ("controlplane", "all")
    }
    assert all(t.startswith("127.0.0.1:") for g in groups for t in g["targets"])


def test_alertmanager_sends_everything_to_the_plane_webhook_with_a_token_file() -> None:
    am = yaml.safe_load(ALERTMANAGER_YML.read_text())
    (receiver,) = am["receivers"]
    (hook,) = receiver["webhook_configs"]
    assert am["route"]["receiver"] == receiver["name"]
    assert hook["url"] == "http://127.0.0.1:8700/v1/webhooks/alertmanager"
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].endswith("alertmanager.token")
    resolved = (ALERTMANAGER_YML.parent / auth["credentials_file"]).resolve()
    assert resolved == (REPO / ".controlplane" / "alertmanager.token").resolve()
    assert am["route"]["group_by"] == ["alertname", "service", "environment"]


def test_a_state_folder_copy_uses_the_ports_the_local_backend_handed_out(tmp_path: Path) -> None:
    (tmp_path / "workloads").mkdir()
    state = {
        "version": 2,
        "targets": {
            "bankchurn/production": {"front_port": 8805},
            "bankchurn/dev": {"front_port": 8800},
            "nlpinsight/staging": {"front_port": None},  # never deployed
        },
    }
    (tmp_path / "workloads" / "state.json").write_text(json.dumps(state))
    out = tmp_path / "monitoring"
    written = files.write(out, files.for_state(tmp_path, plane_url="http://127.0.0.1:8711"))
    prom = yaml.safe_load(written[0].read_text())
    targets = [(g["targets"][0], g["labels"]) for g in prom["scrape_configs"][1]["static_configs"]]
    assert targets == [
        ("127.0.0.1:8800", {"service": "bankchurn", "environment": "dev"}),
        ("127.0.0.1:8805", {"service": "bankchurn", "environment": "production"}),
    ]
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8711"]
    assert prom["rule_files"] == [str(files.RULES_DIR / "*.yml")]
    am = yaml.safe_load(written[1].read_text())
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:8711/v1/webhooks/alertmanager"
    token = hook["http_config"]["authorization"]["credentials_file"]
    assert token == str(tmp_path.resolve() / "alertmanager.token")


def test_default_targets_follow_the_local_backends_first_free_port_order() -> None:
    targets = config.default_targets()
    assert [t.address for t in targets] == [f"127.0.0.1:{p}" for p in range(8800, 8809)]
    assert (targets[0].service, targets[0].environment) == ("bankchurn", "dev")
    assert (targets[-1].service, targets[-1].environment) == ("chicagotaxi", "production")


# --- the alerts are complete and tested both ways --------------------------------------------


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-"))
        for h in re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    }
    for alert in _alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in config.SEVERITIES, name
        assert {"summary", "description", "runbook_url"} <= alert["annotations"].keys(), name
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/monitoring.md#{name.lower()}" and name.lower() in anchors, name


def test_every_alert_has_a_test_where_it_fires_and_one_where_it_does_not() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a["alert"] for a in _alerts()}
    assert names - fires == set(), "never seen firing"
    assert names - quiet == set(), "never seen quiet"
    assert (fires | quiet) - names == set(), "tests of alerts that do not exist"


def test_the_error_budget_series_is_the_one_the_risk_reader_queries() -> None:
    from controlplane.risk.readers import budget_query

    recorded = {r["record"] for r in _rules() if "record" in r}
    for query in (budget_query("bankchurn", "dev"), budget_query("bankchurn", None),
                  budget_query(None, None)):  # fmt: skip
        assert _series_names(query) <= recorded, query


# --- every series the rules read is exported --------------------------------------------------


SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
NAME_ALTERNATION = re.compile(r"^\(([a-z0-9_|]+)\)([a-z0-9_]+)$")


def _selectors(expr: str) -> Iterator[tuple[set[str], set[str]]]:
    """(metric names, label names matched) of each selector in a PromQL expression."""
    for match in SELECTOR.finditer(expr):
        name, body = match.group(1), match.group(2)
        labels = {m[0] for m in MATCHER.findall(body)}
        if name:
            yield {name}, labels
            continue
        regex = dict((m[0], m[2]) for m in MATCHER.findall(body))["__name__"]
        alternatives = NAME_ALTERNATION.match(regex)
        assert alternatives, f"write __name__ matchers as (a|b|c)_suffix: {regex}"
        names, suffix = alternatives.group(1).split("|"), alternatives.group(2)
        assert sorted(names) == sorted(KNOWN_SERVICES), regex
        yield {n + suffix for n in names}, labels - {"__name__"}
    bare = SELECTOR.sub(" ", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr))
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges and durations
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    for token in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", bare):
        if token.group(2) is None and token.group(1).lower() not in PROMQL_WORDS:
            yield {token.group(1)}, set()


def _series_names(expr: str) -> set[str]:
    return {n for names, _ in _selectors(expr) for n in names}


def _exported(registry: CollectorRegistry, holder: object) -> dict[str, set[str]]:
    """Sample names a registry can export, each with its label names (its metrics' own)."""
    labels = {
        w._name: set(w._labelnames)  # no public API lists the label names of an unused metric
        for w in vars(holder).values()
        if isinstance(w, MetricWrapperBase)
    }
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
    }
    names: dict[str, set[str]] = {}
    for family in registry.collect():
        for suffix in suffixes[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            # a custom collector (the dora_* gauges) has no wrapper: its samples name its labels
            own = labels.get(family.name)
            if own is None:
                own = {name for sample in family.samples for name in sample.labels}
            names[family.name + suffix] = own | extra
    return names


def _scraped(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


@pytest.fixture(scope="module")
def service_series(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """What each real service app exports, with no model (none is needed for the names)."""
    exported: dict[str, set[str]] = {}
    root = tmp_path_factory.mktemp("svc")
    for service in KNOWN_SERVICES:
        module = __import__(f"services.{service}.app", fromlist=["build"])
        settings = ServeSettings(artifact=root / "missing", log_dir=root / f"log-{service}")
        app = module.build(settings)
        with TestClient(app) as client:
            assert client.get("/ready").status_code == 503  # counted, like any request
            scrape = client.get("/metrics")
        assert scrape.status_code == 200
        metrics = app.state.runtime.metrics
        names = _exported(metrics.registry, metrics)
        assert {f"{service}_ready", f"{service}_requests_total"} <= _scraped(scrape.text)
        assert _scraped(scrape.text) <= names.keys()
        exported |= names
    return exported


@pytest.fixture
def plane_series(app: Any, client: TestClient) -> dict[str, set[str]]:
    """What the plane exports at /metrics, which Prometheus scrapes without a token."""
    assert client.get("/healthz").status_code == 200
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    names = _exported(app.state.ctx.metrics.registry, app.state.ctx.metrics)
    assert "controlplane_http_request_seconds_count" in _scraped(scrape.text)
    assert _scraped(scrape.text) <= names.keys()
    return names


def test_every_series_and_label_the_rules_read_is_exported(
    service_series: dict[str, set[str]], plane_series: dict[str, set[str]]
) -> None:
    exported = service_series | plane_series
    recorded = {r["record"] for r in _rules() if "record" in r}
    for rule in _rules():
        for names, labels in _selectors(rule["expr"]):
            for name in names:
                where = f"{rule.get('alert') or rule.get('record')}: {name}"
                if name in recorded or name in BUILTIN_SERIES:
                    continue
                assert name in exported, f"{where} is not exported"
                assert labels <= exported[name] | TARGET_LABELS, f"{where} has no {labels}"


def test_the_name_scanner_finds_bare_braced_and_alternated_names() -> None:
    expr = (
        'sum by (service) (rate({__name__=~"(bankchurn|nlpinsight|chicagotaxi)_x_total",'
        'job="services"}[5m] offset 1h)) / on(service) slo:a:b and up{job="x"} > bool 0.5'
    )
    assert _series_names(expr) == {
        "bankchurn_x_total",
        "nlpinsight_x_total",
        "chicagotaxi_x_total",
        "slo:a:b",
        "up",
    }
