"""The alert rules in deploy/observability are valid Prometheus rules and behave as their unit
tests say (promtool, from Debian's ``prometheus`` package; `make test` installs it), and the
dashboard is a Grafana dashboard whose queries name only metrics the services serve."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.support import prometheus_tool

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
RULES = OBSERVABILITY / "alerts.yml"
RULE_TESTS = OBSERVABILITY / "alerts.test.yml"
DASHBOARD = OBSERVABILITY / "dashboard.json"
METRIC_NAME = re.compile(r"\bsamspil_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def promtool() -> str:
    return prometheus_tool("promtool")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=OBSERVABILITY, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_alert_rules_are_valid_prometheus_rules() -> None:
    checked = run("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_alert_rules_fire_as_their_unit_tests_expect() -> None:
    tested = run("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_unit_test() -> None:
    alerts = set(re.findall(r"^\s*- alert: (\w+)", RULES.read_text(), re.MULTILINE))
    tested = set(re.findall(r"^\s*alertname: (\w+)", RULE_TESTS.read_text(), re.MULTILINE))
    assert alerts and alerts == tested


def test_the_dashboard_queries_prometheus_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "prometheus"
        assert all(METRIC_NAME.search(target["expr"]) for target in panel["targets"]), panel["title"]


def test_the_dashboard_does_not_split_faststreams_records_by_their_status() -> None:
    # FastStream's status label always says "acked": our consumer catches a handler's failure and
    # seeks back (or dead-letters), so FastStream never sees one. Outcomes come from our metrics.
    panels = json.loads(DASHBOARD.read_text())["panels"]
    faststream = [
        (panel, target["expr"])
        for panel in panels
        for target in panel["targets"]
        if "samspil_faststream_" in target["expr"]
    ]
    assert faststream
    for panel, expr in faststream:
        assert "status" not in expr and "status" not in panel["title"], panel["title"]
        if "processed" in expr:
            assert "samspil_dead_letters_by_reason" in panel["description"]


def metric_names_used() -> set[str]:
    """The metric families the rules and the dashboard read (suffixes of samples removed)."""
    text = RULES.read_text() + RULE_TESTS.read_text() + DASHBOARD.read_text()
    names = set()
    for name in METRIC_NAME.findall(text):
        for suffix in SUFFIXES:
            name = name.removesuffix(suffix)
        names.add(name)
    return names
