"""`python -m bench.risk`: the risk decision inside the service at a constant offered rate (DESIGN.md section 7:
p99 under 5 ms at 1,000 decisions/s).

One risk process (the real `python -m risk`, with its outbox relay, consumer and rule refresher running) on the
embedded PostgreSQL and broker, or on DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS. A gRPC client sends single
`Evaluate` calls on a fixed schedule (open model: every call leaves at its time, whatever the earlier ones
are doing), with a mix of traffic that exercises every feature: most subscribers new, payer accounts, devices
and IPs drawn from pools (some of them hot, so velocity, spray and promotion rules fire), one attempt in twenty a
voucher redemption. The service times each call from its arrival to its decision (`topup_risk_evaluate_seconds`,
a histogram on its /metrics); p50 and p99 are read from the difference of two scrapes around the measured
window, interpolated inside the histogram's bucket. The client's own round-trip latency is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from topup.common.v1 import common_pb2
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_devstack.infra import free_port, infrastructure, terminate
from topup_platform.batching import MicroBatcher
from topup_platform.timeutil import to_timestamp, utcnow

ROOT = Path(__file__).resolve().parents[1]
METRIC = "topup_risk_evaluate_seconds"
_BUCKET = re.compile(METRIC + r'_bucket\{le="([^"]+)",rpc="(\w+)"\} ([0-9.e+]+)')
SKUS = [("CREDIT_10", 1000), ("CREDIT_20", 2000), ("CREDIT_30", 3000), ("CREDIT_50", 5000), ("CREDIT_100", 10000),
        ("CREDIT_200", 20000), ("CREDIT_300", 30000), ("CREDIT_500", 50000)]


def requests(count: int, run: str, seed: int = 7) -> list[risk_pb2.EvaluateRequest]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        hot = rng.random() < 0.02
        account = f"186{rng.randrange(10**8):08d}" if not hot else f"1860000{rng.randrange(100):04d}"
        sku, fen = rng.choices(SKUS, weights=[10, 15, 10, 30, 20, 8, 4, 3])[0]
        voucher = rng.random() < 0.05
        payer = f"2088{rng.randrange(50_000 if not hot else 20):012d}" if rng.random() < 0.7 else ""
        device = f"dev-{rng.randrange(50_000 if not hot else 10)}" if rng.random() < 0.5 else ""
        ip = f"10.{rng.randrange(20)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" if rng.random() < 0.8 else ""
        method = common_pb2.PAYMENT_METHOD_VOUCHER if voucher else common_pb2.PAYMENT_METHOD_ALIPAY
        out.append(risk_pb2.EvaluateRequest(
            idempotency_key=f"bench:{run}-{i}", channel_id="bench",
            account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account),
            sku="" if voucher else sku, amount_fen=0 if voucher else fen,
            payment=common_pb2.Payment(method=method, transaction_id=f"P{run}{i}", paid_fen=0 if voucher else fen,
                                       payer_account="" if voucher else payer),
            device_id=device, ip=ip, action="voucher_redemption" if voucher else "recharge",
        ))
    return out


def scrape(metrics_url: str, rpc: str) -> dict[float, float]:
    text = httpx.get(metrics_url, timeout=5).text
    return {float(le): float(n) for le, name, n in _BUCKET.findall(text) if name == rpc}


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> tuple[float, int]:
    """The q-quantile (seconds) of the observations between two scrapes of a cumulative histogram."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return float("nan"), 0
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower, int(total)
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0), int(total)
        lower, below = bound, cumulative
    return bounds[-1], int(total)


async def drive(target: str, batch: list[risk_pb2.EvaluateRequest], rate: int, mode: str) -> dict[str, Any]:
    """Send every request at its scheduled time; returns client-side latencies and how late sends were.

    mode "gateway": as the gateway does, concurrent requests are coalesced into EvaluateBatch calls (the same
    MicroBatcher, the gateway's default limits); mode "single": one Evaluate call per request."""
    latencies: list[float] = []
    errors = late = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)

        async def flush(items: list[risk_pb2.EvaluateRequest]) -> list[risk_pb2.EvaluateResult]:
            reply = await stub.EvaluateBatch(risk_pb2.EvaluateBatchRequest(items=items), timeout=5)
            return list(reply.results)

        batcher: MicroBatcher[risk_pb2.EvaluateRequest, risk_pb2.EvaluateResult] = MicroBatcher(
            flush, max_batch=64, max_in_flight=2)

        async def one(request: risk_pb2.EvaluateRequest) -> None:
            nonlocal errors
            request.occurred_at.CopyFrom(to_timestamp(utcnow()))
            started = time.perf_counter()
            try:
                if mode == "single":
                    await stub.Evaluate(request, timeout=5)
                else:
                    await batcher.submit(request)
                latencies.append(time.perf_counter() - started)
            except grpc.aio.AioRpcError:
                errors += 1

        tasks = []
        start = time.perf_counter() + 0.05
        for i, request in enumerate(batch):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.002:
                late += 1
            tasks.append(asyncio.create_task(one(request)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    latencies.sort()
    pick = (lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000) if latencies else (
        lambda p: float("nan"))
    return {"sent": len(batch), "seconds": elapsed, "rate": len(batch) / elapsed, "errors": errors,
            "late_sends": late, "client_p50_ms": pick(0.50), "client_p99_ms": pick(0.99)}


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_pids(database_url: str) -> list[int]:
    """The server's processes (the postmaster and its children), found by the data directory's pid file."""
    import asyncpg

    async def data_directory() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return str(await conn.fetchval("SHOW data_directory"))
        finally:
            await conn.close()

    try:
        postmaster = int(Path(asyncio.run(data_directory()), "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return []
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster, *(int(c) for c in children)]


def wait_serving(target: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the risk service exited:\n{log.read_text()[-3000:]}")
        try:
            with grpc.insecure_channel(target) as channel:
                if health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1).status == \
                        health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    sys.exit(f"the risk service did not start:\n{log.read_text()[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="decisions per second, offered on schedule")
    parser.add_argument("--seconds", type=int, default=20, help="the measured window")
    parser.add_argument("--warmup-seconds", type=int, default=3)
    parser.add_argument("--mode", choices=["gateway", "single", "both"], default="both",
                        help="gateway: EvaluateBatch calls coalesced as the gateway does; single: one Evaluate each")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="topup-bench-risk-"))
    with contextlib.ExitStack() as cleanup:
        infra = cleanup.enter_context(infrastructure(work))
        port, metrics_port, log = free_port(), free_port(), work / "risk.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "risk"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **infra.env(), "TOPUP_MIGRATE_ON_START": "1", "RISK_GRPC_PORT": str(port),
                     "RISK_METRICS_PORT": str(metrics_port), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"})
        cleanup.callback(terminate, process, 20)
        target, metrics_url = f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
        wait_serving(target, process, log)
        report = {"rate": args.rate, "seconds": args.seconds, "machine": {"cpus": os.cpu_count()}, "runs": {}}
        for i, mode in enumerate(["gateway", "single"] if args.mode == "both" else [args.mode]):
            run = uuid.uuid4().hex[:8]
            prepared = requests(args.rate * (args.warmup_seconds + args.seconds), run, seed=7 + i)
            warm, measured = prepared[: args.rate * args.warmup_seconds], prepared[args.rate * args.warmup_seconds:]
            print(f"risk ({mode}): warming up at {args.rate}/s for {args.warmup_seconds} s ...", flush=True)  # noqa: T201
            asyncio.run(drive(target, warm, args.rate, mode))
            rpc = "EvaluateBatch" if mode == "gateway" else "Evaluate"
            before = scrape(metrics_url, rpc)
            load = os.getloadavg()[0]
            pg_pids = postgres_pids(infra.database_url)
            cpu_before = (cpu_seconds([process.pid]), cpu_seconds(pg_pids), time.process_time())
            print(f"risk ({mode}): {args.rate} decisions/s for {args.seconds} s ...", flush=True)  # noqa: T201
            client = asyncio.run(drive(target, measured, args.rate, mode))
            cpu_after = (cpu_seconds([process.pid]), cpu_seconds(pg_pids), time.process_time())
            after = scrape(metrics_url, rpc)
            p50, n = quantile(before, after, 0.50)
            p99, _ = quantile(before, after, 0.99)
            report["runs"][mode] = {"rpc": rpc, "decisions": n, "service_p50_ms": p50 * 1000,
                                    "service_p99_ms": p99 * 1000, "client": client,
                                    "cpu_us_per_decision": {
                                        name: (cpu_after[k] - cpu_before[k]) / max(len(measured), 1) * 1e6
                                        for k, name in enumerate(("risk", "postgres", "client"))},
                                    "load_average_before": load, "load_average_after": os.getloadavg()[0]}

    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "risk.json").write_text(json.dumps(report, indent=2))
    lines = ["", f"Risk decision inside the service, {args.rate} decisions/s offered for {args.seconds} s "
                 f"({os.cpu_count()} cores, shared with the load generator and PostgreSQL)"]
    for mode, r in report["runs"].items():
        c = r["client"]
        lines += [
            f"  {mode:8} {r['decisions']} decisions via {r['rpc']} (achieved {c['rate']:.0f}/s, late sends "
            f"{c['late_sends']}, errors {c['errors']}, load average {r['load_average_before']:.1f})",
            f"           service p50 {r['service_p50_ms']:6.2f} ms   p99 {r['service_p99_ms']:6.2f} ms"
            "   (target p99 < 5 ms)",
            "           CPU per decision: risk {risk:.0f} us, PostgreSQL {postgres:.0f} us, load generator "
            "{client:.0f} us".format(**r["cpu_us_per_decision"]),
            f"           client  p50 {c['client_p50_ms']:6.2f} ms   p99 {c['client_p99_ms']:6.2f} ms   (round trip)",
        ]
    print("\n".join([*lines, ""]))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
