"""The alert rules, their runbook, and the Grafana dashboards: every query parses as PromQL and names metrics
(and labels) the services really export, every alert has a runbook entry, and the PrometheusRule the
Kubernetes monitoring component ships is the rule file docker-compose's Prometheus loads."""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy import catalog
from tests.deploy.catalog import ROOT

ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "deploy" / "RUNBOOK.md"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

#: Labels the scrape adds (compose static labels; the Prometheus Operator's target labels on Kubernetes).
TARGET_LABELS = {"job", "instance", "service", "namespace", "pod", "container", "endpoint"}
#: Series Prometheus makes itself.
PROMETHEUS_SERIES = {"up": set(), "ALERTS": {"alertname", "alertstate", "severity"}}


@dataclass(frozen=True)
class Metric:
    kind: str  # counter, gauge, histogram, summary, or "" when unknown (default collectors)
    labels: frozenset[str] | None  # None: not checked


#: Metrics issue 8 asks the services for (the lead adds them in the services). Listed with their type and
#: labels so the dashboards and alerts can be checked now; once a service registers one, its registered
#: type and labels must agree with this line (test_planned_metrics_agree_with_the_registered_ones).
PLANNED: dict[str, Metric] = {
    "topup_orders": Metric("counter", frozenset({"channel", "sku", "status"})),
    "topup_order_arrival_seconds": Metric("histogram", frozenset({"channel"})),
    "topup_boss_request_seconds": Metric("histogram", frozenset({"operation", "outcome"})),
    "topup_boss_retries": Metric("counter", frozenset()),
    "topup_boss_breaker_state": Metric("gauge", frozenset()),
    "topup_boss_in_flight": Metric("gauge", frozenset()),
    "topup_refunds_due_soon": Metric("gauge", frozenset()),
    "topup_refunds_deadline_breaches": Metric("counter", frozenset()),
    "topup_review_queue_size": Metric("gauge", frozenset()),
    "topup_review_oldest_case_age_seconds": Metric("gauge", frozenset()),
}

SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created")}


@functools.cache
def registered() -> dict[str, Metric]:
    """Every metric family the platform's code registers: import every module of topup_platform and of each
    service and simulator package, then read prometheus_client's default registry."""
    for package in ["topup_platform", *(c.package for c in catalog.components())]:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    families: dict[str, Metric] = {}
    for collector, names in REGISTRY._collector_to_names.items():  # no public way to list the collectors
        kind = getattr(collector, "_type", "")
        name = getattr(collector, "_name", None)
        if kind and name:
            families[name] = Metric(kind, frozenset(getattr(collector, "_labelnames", ())))
        else:  # process_*, python_gc_*, python_info: sample names only
            for sample in names:
                families.setdefault(sample, Metric("", None))
    return families


@functools.cache
def series() -> dict[str, Metric]:
    """Queryable series name → its metric (histograms give _bucket, _sum, _count; counters _total)."""
    out: dict[str, Metric] = {}
    for name, metric in {**PLANNED, **registered()}.items():
        for suffix in SUFFIXES.get(metric.kind, ("",)):
            out[name + suffix] = metric
    for name, labels in PROMETHEUS_SERIES.items():
        out[name] = Metric("gauge", None if name == "ALERTS" else frozenset(labels))
    for group in rule_groups():
        for rule in group["rules"]:
            if "record" in rule:
                out[rule["record"]] = Metric("gauge", None)
    return out


@functools.cache
def rule_groups() -> list[dict[str, Any]]:
    return list(yaml.safe_load(ALERTS.read_text())["groups"])


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def grafana_to_promql(expr: str) -> str:
    """Grafana's variables as PromQL would see them after interpolation."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?[A-Za-z_]\w*(:[a-z]+)?\}?", ".*", expr)


def check_query(expr: str, where: str) -> list[str]:
    try:
        ast = promql_parser.parse(expr)
    except ValueError as err:
        return [f"{where}: does not parse: {err}\n{expr}"]
    problems: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            metric = series().get(node.name)
            if metric is None:
                problems.append(f"{where}: no metric {node.name} (not registered by the code, nor planned)")
            elif metric.labels is not None:
                known = metric.labels | TARGET_LABELS | ({"le"} if node.name.endswith("_bucket") else set())
                for matcher in node.matchers.matchers:
                    if matcher.name not in known and matcher.name != "__name__":
                        problems.append(f"{where}: {node.name} has no label {matcher.name}")
        return True

    promql_parser.walk(ast, visit)
    return problems


# ------------------------------------------------------------------------------------------- alert rules


def test_every_rule_parses_and_names_real_metrics() -> None:
    problems = []
    for group in rule_groups():
        for rule in group["rules"]:
            problems += check_query(rule["expr"], rule.get("alert") or rule.get("record"))
    assert not problems, "\n".join(problems)


def test_alerts_are_complete() -> None:
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names)), "alert names are unique"
    for alert in alerts():
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        for key in ("summary", "description", "runbook_url"):
            assert alert["annotations"].get(key), f"{alert['alert']}: annotation {key}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_entry() -> None:
    headings = {_anchor(line[3:]): line[3:].strip()
                for line in RUNBOOK.read_text().splitlines() if line.startswith("## ")}
    for alert in alerts():
        path, _, anchor = alert["annotations"]["runbook_url"].partition("#")
        assert (ROOT / path).resolve() == RUNBOOK.resolve(), f"{alert['alert']}: runbook_url → {path}"
        assert anchor == _anchor(alert["alert"]) and anchor in headings, f"{alert['alert']}: no runbook section"
    # sections named like an alert (Topup...) that is gone; procedures (restores...) have sections of their own
    stale = {h for h in headings.values() if re.fullmatch(r"Topup[A-Za-z0-9]+", h)} - {a["alert"] for a in alerts()}
    assert not stale, f"runbook sections for alerts that no longer exist: {stale}"


@pytest.mark.parametrize(("what", "metric"), [
    ("refund deadline at risk", "topup_refunds_due_soon"),
    ("review case older than 30 minutes", "topup_review_oldest_case_age_seconds"),
    ("outbox backlog growing", "topup_outbox_backlog_events"),
    ("consumer lag", "topup_consumer_lag_messages"),
    ("BOSS breaker open", "topup_boss_breaker_state"),
    ("error-rate burn", "topup:request_error_ratio:rate1h"),
])
def test_issue_8_alerts_exist(what: str, metric: str) -> None:
    assert any(re.search(rf"\b{re.escape(metric)}\b", a["expr"]) for a in alerts()), f"no alert for {what}"


def test_review_alert_fires_at_30_minutes() -> None:
    (alert,) = [a for a in alerts() if "topup_review_oldest_case_age_seconds" in a["expr"]]
    assert re.search(r">\s*1800\b", alert["expr"])


def _selectors(expr: str) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_an_alert_for_callbacks_given_up() -> None:
    """The gateway counts the callbacks it gave up after the whole retry schedule (gateway/callbacks.py): an
    alert fires on any increase of that very counter."""
    from gateway import callbacks

    metric = callbacks.GAVE_UP._name + "_total"
    (alert,) = [a for a in alerts() if any(v.name == metric for v in _selectors(a["expr"]))]
    assert re.search(r"increase\(", alert["expr"]) and re.search(r">\s*0\s*$", alert["expr"].strip())


def test_an_alert_for_the_arrival_target_per_channel() -> None:
    """F5: 99.9 % of orders arrive within 10 s; the alert reads each channel's share of arrivals within 10 s off
    the arrival histogram, at a bucket edge the code really has (else the share would be interpolated or empty)."""
    from orders import metrics as order_metrics

    histogram = order_metrics.ARRIVAL._name
    (alert,) = [a for a in alerts() if any(v.name == f"{histogram}_bucket" for v in _selectors(a["expr"]))]
    buckets = [v for v in _selectors(alert["expr"]) if v.name == f"{histogram}_bucket"]
    edges = {m.value for v in buckets for m in v.matchers.matchers if m.name == "le"}
    assert edges == {"10.0"} and 10.0 in order_metrics.ARRIVAL._upper_bounds, edges
    assert "by (channel)" in alert["expr"] and re.search(r"<\s*0\.999\b", alert["expr"])
    assert any(v.name == f"{histogram}_count" for v in _selectors(alert["expr"]))


def test_prometheusrule_is_generated_from_the_rule_file() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_alert_rules", ROOT / "tools" / "sync_alert_rules.py")
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.TARGET.read_text() == tool.render(), "stale: run python tools/sync_alert_rules.py"
    assert yaml.safe_load(tool.TARGET.read_text())["spec"]["groups"] == rule_groups()


# ------------------------------------------------------------------------------------------- metrics


def test_metrics_the_code_registers_are_found() -> None:
    """The registry scan works (else the metric checks above prove nothing)."""
    found = registered()
    assert found["topup_outbox_backlog_events"].kind == "gauge"
    assert found["topup_http_requests"].labels == {"route", "method", "status"}
    assert found["topup_grpc_server_handling_seconds"].kind == "histogram"


def test_planned_metrics_agree_with_the_registered_ones() -> None:
    for name, planned in PLANNED.items():
        actual = registered().get(name)
        if actual is None:
            continue
        assert actual.kind == planned.kind, f"{name}: registered as a {actual.kind}, dashboards expect {planned.kind}"
        if planned.labels is not None:
            assert actual.labels == planned.labels, f"{name}: labels {sorted(actual.labels or ())}"


# ------------------------------------------------------------------------------------------- dashboards


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in board["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


def test_dashboards_are_well_formed() -> None:
    boards = dashboards()
    assert {b["uid"] for b in boards.values()} == {"topup-business", "topup-sre"}
    for name, board in boards.items():
        variables = {v["name"] for v in board["templating"]["list"]}
        assert "datasource" in variables, f"{name}: a datasource variable (works with any Prometheus data source)"
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids are unique"
        cells: set[tuple[int, int]] = set()
        for p in panels(board):
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, f"{name}: panel {p['title']} is wider than the grid"
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & mine, f"{name}: panel {p['title']} overlaps another"
            cells |= mine
            if p["type"] == "row":
                continue
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, f"{name}: {p['title']}"
            assert p["targets"], f"{name}: {p['title']} has no query"
            for t in p["targets"]:
                used = set(re.findall(r"\$\{?([A-Za-z_]\w*)", t["expr"])) - {"__range", "__rate_interval", "__interval"}
                assert used <= variables, f"{name}: {p['title']} uses undefined variables {used - variables}"


def test_dashboard_queries_parse_and_name_real_metrics() -> None:
    problems = []
    for name, board in dashboards().items():
        for p in panels(board):
            for t in p.get("targets", []):
                problems += check_query(grafana_to_promql(t["expr"]), f"{name} / {p['title']}")
        for v in board["templating"]["list"]:
            query = v.get("definition", "")
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            if match:
                metric = series().get(match.group(1))
                assert metric is not None, f"{name}: variable {v['name']} reads {match.group(1)}"
                assert metric.labels is None or match.group(2) in metric.labels | TARGET_LABELS
    assert not problems, "\n".join(problems)


def _queries(board: dict[str, Any]) -> str:
    return "\n".join(t["expr"] for p in panels(board) for t in p.get("targets", []))


def test_business_dashboard_covers_issue_8() -> None:
    q = _queries(dashboards()["topup-business.json"])
    assert re.search(r"topup_order_arrival_seconds_bucket.*channel", q), "arrival time by channel"
    assert re.search(r'status="SUCCEEDED".*\n/\n.*by \(channel\)', q), "success rate by channel"
    hourly = r"by \(channel\) \(increase\(topup_orders_total\{[^}]*\}\[1h\]\)\)"
    assert re.search(hourly, q), "volume by channel and hour"
    assert "by (sku)" in q, "denomination mix"
    assert "day_of_month() >= 25" in q and "day_of_month() <= 5" in q, "the 25th–5th peak"


def test_sre_dashboard_covers_issue_8() -> None:
    q = _queries(dashboards()["topup-sre.json"])
    for needle in ("topup_http_requests_total", "topup_grpc_server_handled_total", "process_cpu_seconds_total",
                   "topup_consumer_lag_messages", "topup_outbox_backlog_events", "topup_outbox_oldest_age_seconds",
                   "topup_boss_breaker_state", "topup_boss_request_seconds_bucket", "topup_boss_retries_total"):
        assert needle in q, needle
    assert "by (service" in q, "golden signals per service"


def test_grafana_variable_substitution_is_sound() -> None:
    assert grafana_to_promql('rate(x{a=~"$channel"}[$__rate_interval])') == 'rate(x{a=~".*"}[5m])'
    assert check_query("rate(no_such_metric_total[5m])", "t")
    assert check_query('topup_outbox_backlog_events{nonsense="1"}', "t")
    assert not check_query('sum by (service) (topup_outbox_backlog_events{service="orders"})', "t")


def test_runbook_is_linked_from_the_sre_dashboard() -> None:
    assert "deploy/RUNBOOK.md" in dashboards()["topup-sre.json"]["description"]
    assert Path(RUNBOOK).is_file()
