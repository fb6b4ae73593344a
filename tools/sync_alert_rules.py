"""Write deploy/k8s/components/monitoring/prometheusrule.yaml from deploy/prometheus/alerts.yml.

The rule file is the source (docker-compose.yml mounts it into Prometheus as it is); the Prometheus Operator
needs the same groups wrapped in a PrometheusRule. `--check` exits 1 when the committed copy is stale
(tests/deploy run the same comparison).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "deploy" / "prometheus" / "alerts.yml"
TARGET = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by `python tools/sync_alert_rules.py`: edit that file, not this one.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def prometheus_rule(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "topup-alerts", "labels": {"app.kubernetes.io/name": "topup-alerts"}},
        "spec": {"groups": groups},
    }


def render() -> str:
    groups = yaml.safe_load(SOURCE.read_text())["groups"]
    body = yaml.dump(prometheus_rule(groups), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    return HEADER + body


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} is stale: run python tools/sync_alert_rules.py\n")
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
