"""`make bench`: the targets of DESIGN.md section 7, measured in one run on this machine.

1. Intake capacity: wrk, 64 connections, against (a) a bare FastAPI + asyncpg endpoint inserting one row
   and (b) signed `POST /v1/recharges` on the whole platform (BOSS simulator at 20 ms), fulfilment running
   on the same cores, and (c) the same with the fulfilment side (billing adapter, refunds) paused, which
   is the synchronous path alone. Printed side by side with their ratios (target >= 0.5).
2. Constant offered rate (300/s, open model): intake latency p50/p99 from wrk, and arrival time
   (accepted -> credited, from the order history) p50/p99.
3. Where it goes (bench/measure.py): for the capacity run with fulfilment and for the constant-rate run, each
   from its first request until the backlog is drained, the CPU milliseconds per completed order of every
   process (each service and simulator, PostgreSQL with all its backends, the broker, the load generator),
   PostgreSQL transactions and rows per order, and Kafka messages per order; then a short census window with
   `log_statement = 'all'` counts the SQL statements per order and per service (the embedded PostgreSQL has no
   pg_stat_statements). `--profile` (`make bench PROFILE=1`) runs py-spy on every service during the
   constant-rate run and prints the top functions of each.

Durations are flags (`make bench BENCH_ARGS="--seconds 5 --rate-seconds 10 --settle-seconds 2"` for a short
development run). Everything is written to bench/results/latest.json.

Every request is signed ahead with its own nonce and channel_order_id, and used once. Absolute figures on a
shared 2-core machine are noise; the ratio against the baseline measured in the same run is the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.measure import (
    Profiler,
    StatementLog,
    Window,
    census_report,
    connect,
    count_statements,
    pid_with_argument,
    postmaster_pid,
    python_module_pids,
    run_with_rusage,
    sigstopped,
)
from topup_client.signing import new_nonce, sign
from topup_devstack.infra import free_port, infrastructure, terminate, wait_for_port
from topup_devstack.launcher import PROCESSES
from topup_devstack.stack import start_stack

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "signed.lua"


def write_requests(path: Path, count: int, *, prefix: str, target: str, skus: tuple[str, ...] = ("CREDIT_50",)) -> None:
    """`count` signed requests for one use each; the accounts spread over many numbers, as real traffic does."""
    ts = str(int(time.time()))
    prices = {"CREDIT_10": 1000, "CREDIT_20": 2000, "CREDIT_30": 3000, "CREDIT_50": 5000, "CREDIT_100": 10000}
    with open(path, "w") as out:
        for i in range(count):
            sku = skus[i % len(skus)]
            body = json.dumps({
                "channel_order_id": f"{prefix}-{i}",
                "account": {"type": "mobile", "id": f"186{(10_000_000 + i * 7919) % 100_000_000:08d}"},
                "sku": sku,
                "payment": {"method": "alipay", "transaction_id": f"P{prefix}{i}", "paid_fen": prices[sku]},
            }, separators=(",", ":"))
            nonce = new_nonce()
            signature = sign("demo-secret", "POST", target, ts, nonce, body.encode())
            out.write(f"POST\t{target}\t{ts}\t{nonce}\t{signature}\t{body}\n")


def wrk(url: str, requests_file: Path, *, seconds: int, connections: int, threads: int = 2,
        rate: int = 0) -> dict[str, Any]:
    env = {**os.environ, "WRK_RATE": str(rate)}
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA), url,
           "--", str(requests_file), str(threads)]
    status, out, cpu = run_with_rusage(cmd, env=env)
    if status != 0:
        raise subprocess.CalledProcessError(status, cmd, out)
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_seconds"] = cpu
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def open_orders(database_url: str) -> int:
    conn = await connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM orders.orders WHERE status IN ('PENDING', 'PROCESSING')"))
    finally:
        await conn.close()


async def wait_drained(database_url: str, limit_s: float) -> tuple[float, int]:
    started, backlog = time.monotonic(), await open_orders(database_url)
    while time.monotonic() - started < limit_s:
        if await open_orders(database_url) == 0:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - started, backlog


async def completed_orders(database_url: str, prefix: str) -> int:
    """Orders of this run that left PENDING and PROCESSING (credited, failed, held for review, ...)."""
    conn = await connect(database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM orders.orders WHERE channel_id = 'demo' AND channel_order_id LIKE $1"
            " AND status NOT IN ('PENDING', 'PROCESSING')", f"{prefix}-%"))
    finally:
        await conn.close()


async def arrival_ms(database_url: str, prefix: str) -> tuple[list[float], int, int]:
    """(accepted -> SUCCEEDED in ms for each credited order, orders accepted, orders not credited)."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT o.status, extract(epoch FROM (h.at - o.created_at)) * 1000 AS ms
               FROM orders.orders o
               LEFT JOIN orders.order_history h ON h.order_id = o.order_id AND h.to_status = 'SUCCEEDED'
               WHERE o.channel_id = 'demo' AND o.channel_order_id LIKE $1""",
            f"{prefix}-%",
        )
    finally:
        await conn.close()
    credited = [float(r["ms"]) for r in rows if r["ms"] is not None]
    return credited, len(rows), sum(1 for r in rows if r["status"] != "SUCCEEDED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="duration of each capacity run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=int, default=300, help="constant offered rate, orders per second")
    parser.add_argument("--rate-seconds", type=int, default=30)
    parser.add_argument("--boss-latency-ms", type=int, default=20)
    parser.add_argument("--settle-seconds", type=float, default=11.0,
                        help="wait before reading PostgreSQL's counters (idle backends flush them after 10 s)")
    parser.add_argument("--census-rate", type=int, default=100, help="offered rate of the statement census")
    parser.add_argument("--census-seconds", type=int, default=5, help="statement census window (0: none)")
    parser.add_argument("--profile", action="store_true", default=os.environ.get("BENCH_PROFILE", "") not in ("", "0"),
                        help="py-spy every service during the constant-rate run (env BENCH_PROFILE=1)")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="topup-bench-"))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report: dict[str, Any] = {"run": run_id, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                              "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
                              "args": vars(args)}
    with contextlib.ExitStack() as cleanup:
        infra = cleanup.enter_context(infrastructure(work))
        database_url = infra.database_url
        # the census needs the logging collector, which only a restart turns on: only on our own embedded server
        statement_log = None if os.environ.get("DATABASE_URL") or not args.census_seconds else \
            StatementLog.install(database_url)
        print("starting the platform ...", flush=True)  # noqa: T201
        stack = start_stack(work / "stack", {
            **infra.env(),
            "BOSS_SIM_LATENCY_MS": str(args.boss_latency_ms), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            "GATEWAY_ACCESS_LOG": "false",  # production leaves it off (the dev stack's default is on)
            # the demo channel stands for every channel's traffic here: its share of the in-flight limit is the
            # whole limit, which the open-model run (one connection per offered request per second) can reach
            "GATEWAY_MAX_IN_FLIGHT": "1024", "GATEWAY_MAX_IN_FLIGHT_PER_CHANNEL": "1024",
        })
        cleanup.callback(stack.stop)
        services = python_module_pids(stack.process.pid, dict(PROCESSES))
        missing = sorted({name for name, _ in PROCESSES} - set(services))
        if missing:
            sys.exit(f"platform processes not found under the launcher: {missing}")
        roots = dict(services)
        if (postmaster := postmaster_pid(database_url)) is not None:
            roots["postgres"] = postmaster
        if (broker := pid_with_argument(f"tcp://{infra.kafka_bootstrap}")) is not None:
            roots["broker"] = broker
        roots["launcher"] = stack.process.pid  # honcho relaying the logs: its own time only, not its tree
        report["processes"] = roots
        report["tracing"] = sorted(k for k in os.environ if k.startswith("OTEL_")) or "off (no OTEL_* set)"

        def window() -> Window:
            return Window(roots, database_url, infra.kafka_bootstrap, args.settle_seconds, own_only=("launcher",))

        port = free_port()
        baseline = subprocess.Popen([sys.executable, "-m", "bench.baseline", str(port)], cwd=ROOT,
                                    env={**os.environ, "DATABASE_URL": database_url})
        cleanup.callback(terminate, baseline, 10)
        wait_for_port(port, 30, "the baseline")
        base_url, gateway = f"http://127.0.0.1:{port}", stack.gateway

        # Warm-up: connection pools, JIT-free Python caches, the catalog, consumer groups.
        write_requests(work / "warm-b", 3000, prefix=f"wb{run_id}", target="/baseline")
        write_requests(work / "warm-g", 3000, prefix=f"wg{run_id}", target="/v1/recharges")
        wrk(base_url, work / "warm-b", seconds=2, connections=args.connections)
        wrk(gateway, work / "warm-g", seconds=2, connections=args.connections)
        asyncio.run(wait_drained(database_url, 120))

        print("capacity: baseline ...", flush=True)  # noqa: T201
        write_requests(work / "cap-b", 6000 * args.seconds, prefix=f"cb{run_id}", target="/baseline")
        base = wrk(base_url, work / "cap-b", seconds=args.seconds, connections=args.connections)
        print("capacity: signed POST /v1/recharges ...", flush=True)  # noqa: T201
        write_requests(work / "cap-g", int(base["rps"] * 1.5 * args.seconds) + 1000, prefix=f"cg{run_id}",
                       target="/v1/recharges")
        measured = window()
        measured.open()
        intake = wrk(gateway, work / "cap-g", seconds=args.seconds, connections=args.connections)
        drain_s, backlog = asyncio.run(wait_drained(database_url, 600))
        measured.close()
        cpu_capacity = measured.report(asyncio.run(completed_orders(database_url, f"cg{run_id}")),
                                       {"load generator (wrk)": intake["cpu_seconds"]})
        print("capacity: the synchronous path alone (fulfilment paused) ...", flush=True)  # noqa: T201
        write_requests(work / "cap-s", int(base["rps"] * 1.5 * args.seconds) + 1000, prefix=f"cs{run_id}",
                       target="/v1/recharges")
        with sigstopped([services["billing-adapter"], services["refunds"]]):
            sync_only = wrk(gateway, work / "cap-s", seconds=args.seconds, connections=args.connections)
        sync_drain_s, sync_backlog = asyncio.run(wait_drained(database_url, 600))
        report["capacity"] = {
            "baseline": base, "intake": intake, "ratio": intake["rps"] / base["rps"],
            "fulfilment_drain": {"backlog_orders": backlog, "seconds": drain_s},
            "synchronous_path": sync_only, "synchronous_ratio": sync_only["rps"] / base["rps"],
            "backlog_drain": {"backlog_orders": sync_backlog, "seconds": sync_drain_s,
                              "orders_per_second": sync_backlog / sync_drain_s if sync_drain_s else None},
        }

        print(f"constant rate: {args.rate}/s for {args.rate_seconds} s ...", flush=True)  # noqa: T201
        prefix = f"r{run_id}"
        write_requests(work / "rate", int(args.rate * args.rate_seconds * 1.2) + 100, prefix=prefix,
                       target="/v1/recharges", skus=("CREDIT_10", "CREDIT_20", "CREDIT_50", "CREDIT_100"))
        measured = window()
        measured.open()
        profiler = None
        if args.profile:
            profiler = Profiler(out, args.rate_seconds, args.profile_rate)
            profiler.start(services)
        # Enough connections that one is free whenever a send slot comes (an open model), even if slow.
        rated = wrk(gateway, work / "rate", seconds=args.rate_seconds, connections=max(args.connections, args.rate),
                    rate=args.rate)
        extra_cpu = {"load generator (wrk)": rated["cpu_seconds"]}
        if profiler is not None:
            report["profiles"], extra_cpu["py-spy (profiler)"] = profiler.finish()
        asyncio.run(wait_drained(database_url, 120))
        measured.close()
        cpu_rate = measured.report(asyncio.run(completed_orders(database_url, prefix)), extra_cpu)
        credited, accepted, not_credited = asyncio.run(arrival_ms(database_url, prefix))
        report["constant_rate"] = {
            "intake": rated,
            "arrival_ms": {"p50": percentile(credited, 50), "p99": percentile(credited, 99),
                           "max": max(credited, default=float("nan"))},
            "orders_accepted": accepted, "orders_not_credited": not_credited,
        }
        report["where_it_goes"] = {"capacity_with_fulfilment": cpu_capacity, "constant_rate": cpu_rate,
                                   "profiled": args.profile}

        report["statement_census"] = None
        (out / "latest.json").write_text(json.dumps(report, indent=2))  # kept should the census fail
        if statement_log is not None:
            print(f"statement census: {args.census_rate}/s for {args.census_seconds} s, log_statement = all ...",  # noqa: T201
                  flush=True)
            try:
                report["statement_census"] = statement_census(statement_log, work, f"s{run_id}", gateway,
                                                              database_url, args)
            except Exception as err:  # the figures above stand without it
                report["statement_census"] = {"error": repr(err)[:500]}
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    print_report(report)
    print_where_it_goes(report)
    return 0


def print_report(r: dict[str, Any]) -> None:
    cap, rate = r["capacity"], r["constant_rate"]
    b, g, s = cap["baseline"], cap["intake"], cap["synchronous_path"]
    lines = [
        "",
        f"Intake capacity (wrk, {r['args']['connections']} connections, {r['args']['seconds']} s each)",
        f"  bare FastAPI + asyncpg insert   {b['rps']:8.0f} req/s   p50 {b['p50_us'] / 1000:6.1f} ms"
        f"   p99 {b['p99_us'] / 1000:6.1f} ms   non-2xx {b['errors_status']}",
        f"  signed POST /v1/recharges       {g['rps']:8.0f} req/s   p50 {g['p50_us'] / 1000:6.1f} ms"
        f"   p99 {g['p99_us'] / 1000:6.1f} ms   non-2xx {g['errors_status']}",
        f"  ratio                           {cap['ratio']:8.2f}   (target >= 0.50; fulfilment shares the cores)",
        f"  fulfilment of the {cap['fulfilment_drain']['backlog_orders']} orders still open afterwards: "
        f"{cap['fulfilment_drain']['seconds']:.1f} s",
        f"  synchronous path alone          {s['rps']:8.0f} req/s   p50 {s['p50_us'] / 1000:6.1f} ms"
        f"   p99 {s['p99_us'] / 1000:6.1f} ms   non-2xx {s['errors_status']}",
        f"  ratio                           {cap['synchronous_ratio']:8.2f}   (billing adapter and refunds paused)",
        f"  then fulfilment alone drained {cap['backlog_drain']['backlog_orders']} orders in "
        f"{cap['backlog_drain']['seconds']:.1f} s ({cap['backlog_drain']['orders_per_second'] or 0:.0f} orders/s)",
        "",
        f"Constant offered rate {r['args']['rate']}/s for {r['args']['rate_seconds']} s (BOSS simulator at "
        f"{r['args']['boss_latency_ms']} ms)",
        f"  achieved {rate['intake']['rps']:.0f} req/s, late send slots {rate['intake']['late_slots']}, "
        f"non-2xx {rate['intake']['errors_status']}",
        f"  intake   p50 {rate['intake']['p50_us'] / 1000:6.1f} ms   p99 {rate['intake']['p99_us'] / 1000:6.1f} ms"
        "   (target p99 < 50 ms)",
        f"  arrival  p50 {rate['arrival_ms']['p50']:6.1f} ms   p99 {rate['arrival_ms']['p99']:6.1f} ms"
        "   (targets p50 < 200 ms, p99 < 1 s)",
        f"  orders accepted {rate['orders_accepted']}, not credited {rate['orders_not_credited']}",
        "",
    ]
    print("\n".join(lines))  # noqa: T201


def statement_census(statement_log: StatementLog, work: Path, prefix: str, gateway: str, database_url: str,
                     args: argparse.Namespace) -> dict[str, Any]:
    """SQL statements per order and per service: `log_statement = all` for a few idle seconds (the background
    polling) and then a short constant-rate run, drained."""
    write_requests(work / "census", args.census_rate * args.census_seconds + 100, prefix=prefix,
                   target="/v1/recharges", skus=("CREDIT_10", "CREDIT_20", "CREDIT_50", "CREDIT_100"))
    idle_seconds = 3.0
    statement_log.start()
    try:
        time.sleep(idle_seconds)
        idle_per_app, _ = count_statements(statement_log.read())
        started = time.monotonic()
        wrk(gateway, work / "census", seconds=args.census_seconds,
            connections=max(args.connections, args.census_rate), rate=args.census_rate)
        asyncio.run(wait_drained(database_url, 120))
        census_seconds = time.monotonic() - started
    finally:
        text = statement_log.stop()
    per_app, per_sql = count_statements(text)
    return census_report(per_app, per_sql, asyncio.run(completed_orders(database_url, prefix)), idle_seconds,
                         idle_per_app, census_seconds)


ROW_ORDER = [name for name, _ in PROCESSES] + ["postgres", "broker", "launcher", "load generator (wrk)",
                                               "py-spy (profiler)", "bench driver"]


def print_where_it_goes(r: dict[str, Any]) -> None:
    w = r["where_it_goes"]
    runs = [("capacity+fulfilment", w["capacity_with_fulfilment"]), (f"{r['args']['rate']}/s open model",
                                                                      w["constant_rate"])]
    names = [n for n in ROW_ORDER if any(n in run["cpu_ms_per_order"] for _, run in runs)]
    names += sorted({n for _, run in runs for n in run["cpu_ms_per_order"]} - set(names))

    def cell(value: float | None) -> str:
        return f"{value:20.2f}" if value is not None else f"{'n/a':>20}"

    lines = ["", "Where it goes: CPU ms per completed order, from /proc (each window from the first request until the "
             "backlog drained)", f"  {'process':24}" + "".join(f"{title:>20}" for title, _ in runs)]
    for name in names:
        lines.append(f"  {name:24}" + "".join(cell(run["cpu_ms_per_order"].get(name)) for _, run in runs))
    lines += [
        f"  {'total':24}" + "".join(cell(run["cpu_ms_per_order_total"]) for _, run in runs),
        f"  {'orders completed':24}" + "".join(f"{run['orders']:20d}" for _, run in runs),
        f"  {'window, s':24}" + "".join(cell(run["seconds"]) for _, run in runs),
        f"  {'  = cores busy':24}" + "".join(cell(run["cpu_ms_per_order_total"] * run["orders"] / 1000
                                                   / run["seconds"] if run["seconds"] else None) for _, run in runs),
        "  per order, PostgreSQL (pg_stat_database / pg_stat_user_tables):",
    ]
    for key, label in (("transactions", "transactions"), ("table_scans", "index + seq scans"),
                       ("rows_written", "rows ins+upd+del")):
        lines.append(f"  {'  ' + label:24}" + "".join(cell(run["postgres_per_order"][key]) for _, run in runs))
    if any(run["postgres_per_order"]["statements_pg_stat_statements"] is not None for _, run in runs):
        lines.append(f"  {'  statements':24}" + "".join(
            cell(run["postgres_per_order"]["statements_pg_stat_statements"]) for _, run in runs))
    topics = sorted({t for _, run in runs for t in run["kafka_messages_per_order"]})
    lines.append(f"  {'Kafka messages per order':24}" + "".join(
        cell(sum(run["kafka_messages_per_order"].values())) for _, run in runs))
    for topic in topics:
        lines.append(f"  {'  ' + topic:24}" + "".join(cell(run["kafka_messages_per_order"].get(topic, 0.0))
                                                    for _, run in runs))
    if w.get("profiled"):
        lines.append("  (py-spy sampled every service during the open-model run: its figures carry that cost)")
    census = r.get("statement_census")
    if census and "error" in census:
        lines += ["", f"SQL statements per order: the census failed: {census['error']}"]
    elif census:
        lines += [
            "",
            f"SQL statements per order: {census['statements_per_order']:.1f} (census: log_statement = all, "
            f"{census['orders']} orders at {r['args']['census_rate']}/s; of which about "
            f"{census['background_share_per_order']:.1f} background polling)",
            "  " + ", ".join(f"{app} {n:.1f}" for app, n in census["per_service"].items()),
            "  the most frequent, per order:",
            *(f"  {s['per_order']:6.2f}  {s['service']:16} {s['sql'][:90]}" for s in census["top_statements"][:10]),
        ]
    else:
        lines += ["", "SQL statements per order: no census (PostgreSQL not embedded, or --census-seconds 0)"]
    for name, found in (r.get("profiles") or {}).items():
        if "error" in found:
            lines.append(f"  py-spy {name}: {found['error']}")
            continue
        lines.append(f"\npy-spy {name} ({found['samples']} samples, {found['seconds']:.1f} s on CPU or waiting on a "
                     f"lock; own time, top {len(found['own'])}):")
        lines += [f"  {f['percent']:5.1f} %  {f['function']}" + (
            "  <- the event loop and the C under it (uvloop, asyncpg's protocol, grpc core)"
            if f["function"].startswith("Runner.run ") else "") for f in found["own"]]
        lines.append("  what the event loop was running (a task or callback):")
        lines += [f"  {f['percent']:5.1f} %  {f['function']}" for f in found["tasks"]]
    print("\n".join([*lines, ""]))  # noqa: T201


if __name__ == "__main__":
    sys.exit(main())
