"""`make bench-pythons`: which interpreters it finds, and the table comparing their runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.pythons import interpreters, table


def _reports(rps: float, ratio: float, p99_ms: float, load: float) -> tuple[dict[str, Any], dict[str, Any]]:
    bench = {"machine": {"load_average_at_start": [load, 0, 0]},
             "capacity": {"baseline": {"rps": 2000.0}, "intake": {"rps": rps}, "ratio": ratio,
                          "synchronous_path": {"rps": rps * 2}, "synchronous_ratio": ratio * 2,
                          "backlog_drain": {"orders_per_second": 300.0}},
             "constant_rate": {"intake": {"rps": 250.0, "p99_us": p99_ms * 1000}, "arrival_ms": {"p99": 900.0}},
             "where_it_goes": {"capacity_with_fulfilment": {"cpu_ms_per_order_total": 10.0}}}
    risk = {"runs": {"gateway": {"service_p99_ms": 4.0, "cpu_us_per_decision": {"risk": 500.0}}}}
    return bench, risk


def test_the_table_compares_each_figure_with_the_oldest_interpreter() -> None:
    text = table({"3.11": _reports(200, 0.1, 100.0, 0.5), "3.13": _reports(250, 0.125, 80.0, 0.7)})
    rows = {line[:40].strip(): line for line in text.splitlines()}
    assert "CPython 3.11" in text and "3.13 vs 3.11" in text
    assert rows["signed POST with fulfilment, req/s"].rstrip().endswith("+25.0 %+")  # more is better
    assert rows["300/s offered: intake p99, ms"].rstrip().endswith("-20.0 %+")  # less is better
    assert rows["baseline, req/s"].rstrip().endswith("+0.0 %")
    assert "0.70" in rows["load average at the start"]


def test_only_interpreters_that_run_and_are_supported_are_taken(tmp_path: Path) -> None:
    broken = tmp_path / "python3.12"
    broken.write_text("#!/bin/sh\nexit 127\n")
    broken.chmod(0o755)
    found = interpreters([str(broken), sys.executable, sys.executable])
    assert found == {f"{sys.version_info[0]}.{sys.version_info[1]}": str(Path(sys.executable).resolve())}
