"""bench/measure.py: the accounting `make bench` prints (real processes for the /proc part)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap

from bench.measure import (
    BENCH_APPLICATION,
    count_statements,
    cpu_snapshot,
    kafka_delta,
    pg_delta,
    process_table,
    statement_text,
    top_functions,
    tree_cpu,
)

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"


def tree(child_exits: bool) -> subprocess.Popen[str]:
    """A parent that, on a line on stdin, runs a child burning 0.4 s of CPU (which then exits, or stays), and
    says `done`; the parent itself burns nothing."""
    child = BURN + ("" if child_exits else "import sys\nprint('burnt', flush=True)\nsys.stdin.read()\n")
    parent = textwrap.dedent(f"""
        import subprocess, sys
        sys.stdin.readline()
        child = subprocess.Popen([sys.executable, "-c", {child!r}], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
        if {child_exits!r}:
            child.wait()
        else:
            child.stdout.readline()
        print("done", flush=True)
        sys.stdin.readline()
    """)
    return subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def measure(child_exits: bool) -> float:
    process = tree(child_exits)
    assert process.stdin is not None and process.stdout is not None
    try:
        before = tree_cpu(process.pid, process_table())
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"
        after = tree_cpu(process.pid, process_table())
        assert before is not None and after is not None
        return after - before
    finally:
        process.kill()
        process.wait(5)


def test_a_child_that_exited_in_the_window_counts() -> None:
    assert measure(child_exits=True) >= 0.35


def test_a_child_still_running_counts() -> None:
    assert measure(child_exits=False) >= 0.35


def test_a_process_counted_alone_leaves_its_children_out() -> None:
    process = tree(child_exits=False)
    assert process.stdin is not None and process.stdout is not None
    try:
        before = cpu_snapshot({"p": process.pid}, own_only=("p",))["p"]
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"
        after = cpu_snapshot({"p": process.pid}, own_only=("p",))["p"]
        assert before is not None and after is not None and after - before < 0.2
    finally:
        process.kill()
        process.wait(5)


def test_a_process_that_is_gone_reads_as_none() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(5)
    assert tree_cpu(process.pid, process_table()) is None


def csv_row(message: str, application: str) -> str:
    row = [""] * 26
    row[13], row[22] = message, application
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue()


def test_statements_are_counted_per_service_and_statement() -> None:
    log = "".join([
        csv_row("statement: BEGIN;", "orders"),
        csv_row("execute __asyncpg_stmt_1__: SELECT a\n  FROM t WHERE id = $1", "orders"),
        csv_row("execute <unnamed>: SELECT a FROM t WHERE id = $1", "orders"),
        csv_row("statement: COMMIT;", "orders"),
        csv_row("execute s1: INSERT INTO x VALUES ($1)", "risk"),
        csv_row("execute s2: SELECT * FROM unnest($1::text[]) -- " + "x" * 200_000, "risk"),  # long: one field
        csv_row("duration: 1.2 ms", "risk"),  # not a statement
        csv_row("connection authorized: user=postgres", ""),
        csv_row("statement: SELECT count(*) FROM orders.orders", BENCH_APPLICATION),  # the bench's own
    ])
    per_app, per_sql = count_statements(log)
    assert per_app == {"orders": 4, "risk": 2}
    assert per_sql[("orders", "SELECT a FROM t WHERE id = $1")] == 2
    assert statement_text("duration: 3 ms") is None


def test_top_functions_by_own_and_total_time() -> None:
    frames = [{"name": "Runner.run", "file": "/x/lib/python3.11/asyncio/runners.py", "line": 1},
              {"name": "handle", "file": "/w/services/gateway/src/gateway/app.py", "line": 10},
              {"name": "handle", "file": "/w/services/gateway/src/gateway/app.py", "line": 12},
              {"name": "sign", "file": "/w/libs/topup-client/src/topup_client/signing.py", "line": 5}]
    speedscope = {"shared": {"frames": frames}, "profiles": [
        {"type": "sampled", "samples": [[0, 1], [0, 2], [0, 1, 3], [0, 3]], "weights": [1, 1, 1, 1]},
        {"type": "sampled", "samples": [[]], "weights": [5]},
    ]}
    found = top_functions(speedscope, top=2)
    assert found["samples"] == 4
    # two lines of `handle` are one function; the leaf decides own time
    assert found["own"] == [{"function": "handle (gateway/app.py)", "percent": 50.0},
                            {"function": "sign (topup_client/signing.py)", "percent": 50.0}]
    assert found["total"][0] == {"function": "Runner.run (asyncio/runners.py)", "percent": 100.0}
    # what the loop ran: the frame right above Runner.run
    assert found["tasks"] == [{"function": "handle (gateway/app.py)", "percent": 75.0},
                              {"function": "sign (topup_client/signing.py)", "percent": 25.0}]


def test_counters_per_order() -> None:
    zero = {"seq_scan": 0, "idx_scan": 0, "n_tup_ins": 0, "n_tup_upd": 0, "n_tup_del": 0}
    before = {"database": {"xact_commit": 10, "xact_rollback": 0, "tup_returned": 0, "tup_fetched": 0,
                           "tup_inserted": 0, "tup_updated": 0, "tup_deleted": 0},
              "tables": {"orders.orders": zero}, "pg_stat_statements_calls": None}
    after = {"database": {"xact_commit": 50, "xact_rollback": 10, "tup_returned": 0, "tup_fetched": 0,
                          "tup_inserted": 30, "tup_updated": 10, "tup_deleted": 0},
             "tables": {"orders.orders": {**zero, "n_tup_ins": 10, "idx_scan": 20},
                        "orders.outbox": {**zero, "n_tup_ins": 20, "n_tup_upd": 20}},
             "pg_stat_statements_calls": None}
    moved = pg_delta(before, after, orders=10)
    assert moved["transactions"] == 5.0
    assert moved["rows_written"] == 4.0  # the database counters, not the per-table sums
    assert moved["table_scans"] == 2.0
    assert list(moved["tables"]) == ["orders.outbox", "orders.orders"]  # the busiest first
    assert moved["statements_pg_stat_statements"] is None
    assert kafka_delta({"a": 5}, {"a": 25, "b": 10, "c": 0}, orders=10) == {"a": 2.0, "b": 1.0}
