"""`make bench`: the targets of DESIGN.md section 7, measured in one run on this machine.

1. Intake capacity: wrk, 64 connections, against (a) a bare FastAPI + asyncpg endpoint inserting one row
   and (b) signed `POST /v1/recharges` on the whole platform (BOSS simulator at 20 ms), fulfilment running
   on the same cores, and (c) the same with the fulfilment side (billing adapter, refunds) paused, which
   is the synchronous path alone. Printed side by side with their ratios (target >= 0.5).
2. Constant offered rate (300/s, open model): intake latency p50/p99 from wrk, and arrival time
   (accepted -> credited, from the order history) p50/p99.

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
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from topup_client.signing import new_nonce, sign
from topup_devstack.infra import free_port, infrastructure, terminate, wait_for_port
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
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


@contextlib.contextmanager
def paused(modules: list[str]) -> Iterator[None]:
    """SIGSTOP the platform processes running these modules for the duration (SIGCONT after)."""
    pids = [int(p) for m in modules for p in subprocess.run(
        ["pgrep", "-f", f"python -m {m}"], capture_output=True, text=True).stdout.split()]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


async def open_orders(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
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


async def arrival_ms(database_url: str, prefix: str) -> tuple[list[float], int, int]:
    """(accepted -> SUCCEEDED in ms for each credited order, orders accepted, orders not credited)."""
    conn = await asyncpg.connect(database_url)
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
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    run_id = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="topup-bench-"))
    report: dict[str, Any] = {"run": run_id, "machine": {"cpus": os.cpu_count()}, "args": vars(args)}
    with contextlib.ExitStack() as cleanup:
        infra = cleanup.enter_context(infrastructure(work))
        database_url = infra.database_url
        print("starting the platform ...", flush=True)  # noqa: T201
        stack = start_stack(work / "stack", {
            **infra.env(),
            "BOSS_SIM_LATENCY_MS": str(args.boss_latency_ms), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
            # the demo channel stands for every channel's traffic here: its share of the in-flight limit is the
            # whole limit, which the open-model run (one connection per offered request per second) can reach
            "GATEWAY_MAX_IN_FLIGHT": "1024", "GATEWAY_MAX_IN_FLIGHT_PER_CHANNEL": "1024",
        })
        cleanup.callback(stack.stop)
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
        intake = wrk(gateway, work / "cap-g", seconds=args.seconds, connections=args.connections)
        drain_s, backlog = asyncio.run(wait_drained(database_url, 600))
        print("capacity: the synchronous path alone (fulfilment paused) ...", flush=True)  # noqa: T201
        write_requests(work / "cap-s", int(base["rps"] * 1.5 * args.seconds) + 1000, prefix=f"cs{run_id}",
                       target="/v1/recharges")
        with paused(["billing_adapter", "refunds"]):
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
        # Enough connections that one is free whenever a send slot comes (an open model), even if slow.
        rated = wrk(gateway, work / "rate", seconds=args.rate_seconds, connections=max(args.connections, args.rate),
                    rate=args.rate)
        asyncio.run(wait_drained(database_url, 120))
        credited, accepted, not_credited = asyncio.run(arrival_ms(database_url, prefix))
        report["constant_rate"] = {
            "intake": rated,
            "arrival_ms": {"p50": percentile(credited, 50), "p99": percentile(credited, 99),
                           "max": max(credited, default=float("nan"))},
            "orders_accepted": accepted, "orders_not_credited": not_credited,
        }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2))
    print_report(report)
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


if __name__ == "__main__":
    sys.exit(main())
