"""`make bench-pythons`: the bench once per CPython this machine has (3.11 to 3.14), side by side.

Each interpreter gets an environment of its own, installed from the same lock (`uv sync --frozen` into
`.bench/venv-3.X`), and runs the same `python -m bench` and `python -m bench.risk` with the same arguments, one
after the other on the same machine. What each run measured is kept in `bench/results/python-3.X.json` and
`python-3.X-risk.json`; the table compares every figure with the oldest interpreter's.

The ratios against the bare baseline are each run's own result (the baseline runs on that interpreter too);
the absolute figures compare interpreters only as far as the machine was as quiet for each run (the load
average at each start is printed beside them).

    python -m bench.pythons [--python /path/to/python3.13 ...] [-- bench arguments]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VERSIONS = ("3.11", "3.12", "3.13", "3.14")

#: (label, how to read it from (bench report, risk report), whether more is better)
FIGURES: list[tuple[str, Callable[[dict[str, Any], dict[str, Any]], float], bool]] = [
    ("baseline, req/s", lambda b, r: b["capacity"]["baseline"]["rps"], True),
    ("signed POST with fulfilment, req/s", lambda b, r: b["capacity"]["intake"]["rps"], True),
    ("  ratio to the baseline", lambda b, r: b["capacity"]["ratio"], True),
    ("synchronous path alone, req/s", lambda b, r: b["capacity"]["synchronous_path"]["rps"], True),
    ("  ratio to the baseline", lambda b, r: b["capacity"]["synchronous_ratio"], True),
    ("fulfilment alone, orders/s", lambda b, r: b["capacity"]["backlog_drain"]["orders_per_second"], True),
    ("300/s offered: achieved, req/s", lambda b, r: b["constant_rate"]["intake"]["rps"], True),
    ("300/s offered: intake p99, ms", lambda b, r: b["constant_rate"]["intake"]["p99_us"] / 1000, False),
    ("300/s offered: arrival p99, ms", lambda b, r: b["constant_rate"]["arrival_ms"]["p99"], False),
    ("CPU per order (capacity run), ms", lambda b, r: b["where_it_goes"]["capacity_with_fulfilment"][
        "cpu_ms_per_order_total"], False),
    ("risk at 1,000/s batched: p99, ms", lambda b, r: r["runs"]["gateway"]["service_p99_ms"], False),
    ("risk CPU per decision, us", lambda b, r: r["runs"]["gateway"]["cpu_us_per_decision"]["risk"], False),
]


def runs(python: str) -> str | None:
    """The interpreter's version (3.X) if it runs and is one we support."""
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = out.stdout.strip()
    return version if out.returncode == 0 and version in VERSIONS else None


def interpreters(named: list[str]) -> dict[str, str]:
    """version -> interpreter: the ones named, else python3.X on PATH, else a pyenv installation of it."""
    found: dict[str, str] = {}
    candidates = named or [
        *(p for v in VERSIONS if (p := shutil.which(f"python{v}"))),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[1-4]*/bin/python3.1[1-4]"))),
    ]
    for candidate in candidates:
        version = runs(candidate)
        if version and version not in found:
            found[version] = str(Path(candidate).resolve()) if "/.pyenv/shims/" not in candidate else candidate
    return dict(sorted(found.items()))


def environment(version: str, python: str) -> Path:
    venv = ROOT / ".bench" / f"venv-{version}"
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    subprocess.run([uv, "sync", "--frozen", "--all-packages", "--python", python, "--quiet"], check=True, cwd=ROOT,
                   env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"})
    return venv / "bin" / "python"


def settle(below: float = 1.0, at_most: float = 120.0) -> None:
    """Wait (at most `at_most` s) until the one-minute load average is below `below`: the previous run's load
    fades slowly, and a run that starts on a busy machine is not comparable with one on a quiet one."""
    deadline = time.monotonic() + at_most
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)


def measure(version: str, python: Path, bench_args: list[str], risk_args: list[str]) -> tuple[dict, dict]:
    settle()
    print(f"\n=== CPython {version}: python -m bench {' '.join(bench_args)}", flush=True)  # noqa: T201
    subprocess.run([str(python), "-m", "bench", *bench_args], check=True, cwd=ROOT)
    subprocess.run([str(python), "-m", "bench.risk", *risk_args], check=True, cwd=ROOT)
    bench = json.loads((RESULTS / "latest.json").read_text())
    risk = json.loads((RESULTS / "risk.json").read_text())
    (RESULTS / f"python-{version}.json").write_text(json.dumps(bench, indent=2))
    (RESULTS / f"python-{version}-risk.json").write_text(json.dumps(risk, indent=2))
    return bench, risk


def table(results: dict[str, tuple[dict, dict]]) -> str:
    versions = list(results)
    first = versions[0]
    width = max(len(label) for label, _, _ in FIGURES) + 2
    lines = [f"{'':<{width}}" + "".join(f"{'CPython ' + v:>16}" for v in versions)
             + "".join(f"{v + ' vs ' + first:>16}" for v in versions[1:])]
    load = {v: results[v][0]["machine"]["load_average_at_start"][0] for v in versions}
    lines.append(f"{'load average at the start':<{width}}" + "".join(f"{load[v]:>16.2f}" for v in versions))
    for label, read, more_is_better in FIGURES:
        values = {}
        for v in versions:
            try:
                values[v] = float(read(*results[v]))
            except (KeyError, TypeError, ZeroDivisionError):
                values[v] = float("nan")
        row = f"{label:<{width}}" + "".join(f"{values[v]:>16.2f}" for v in versions)
        for v in versions[1:]:
            base = values[first]
            change = (values[v] - base) / base * 100 if base else float("nan")
            better = change > 0 if more_is_better else change < 0
            row += f"{change:>+14.1f} %{'+' if better else ' '}"
        lines.append(row)
    lines.append("(+ marks a change for the better)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", default=[], help="an interpreter to include (repeatable)")
    parser.add_argument("--risk-args", default="", help="arguments for python -m bench.risk")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for python -m bench (after --)")
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    found = interpreters(args.python)
    if len(found) < 2:
        print(f"only {', '.join(found) or 'no'} supported CPython found here: nothing to compare "  # noqa: T201
              "(name one with --python)", file=sys.stderr)
        if not found:
            return 1
    print("interpreters: " + ", ".join(f"{v} ({p})" for v, p in found.items()), flush=True)  # noqa: T201
    results = {v: measure(v, environment(v, p), bench_args, args.risk_args.split()) for v, p in found.items()}
    report = table(results)
    (RESULTS / "pythons.txt").write_text(report + "\n")
    print("\n" + report)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
