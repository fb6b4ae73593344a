"""The supervisor `make run` runs the platform under: one process per program, one prefixed log stream, and a
program that dies is started again after a growing pause, while the rest keeps running.

honcho (which `make run` used before) stops everything when one process ends, and nothing in it restarts a
process; supervisord and circus restart, but each is a daemon with its own configuration and log files. What
is needed here is small: start, relay the output, restart with a backoff, and on Ctrl-C or SIGTERM stop the
services first and the infrastructure (the broker) last, killing what outlives its grace. honcho's printer
still formats the stream (`HH:MM:SS name | line`).

Each child runs in a session of its own, so a Ctrl-C at the terminal reaches only this supervisor, which then
stops the children in order (no child sees the signal twice, none prints a KeyboardInterrupt traceback). A
second Ctrl-C kills what is left at once.
"""

from __future__ import annotations

import datetime
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from honcho.colour import get_colours
from honcho.printer import Message, Printer

SYSTEM = "system"


@dataclass(frozen=True)
class Backoff:
    """How long to wait before starting a program that died: `first`, then `factor` times longer each time it
    dies again, at most `cap`. A program that ran for `stable_after` seconds before dying counts as new."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    stable_after: float = 30.0

    def delay(self, restarts: int) -> float:
        """The pause before restart number `restarts + 1` (pure: 0.5, 1, 2, 4 ... 30)."""
        return float(min(self.cap, self.first * self.factor ** max(restarts, 0)))

    def streak(self, restarts: int, ran_seconds: float) -> int:
        """How many quick restarts in a row came before this one, after a run of `ran_seconds` (pure): a run
        of `stable_after` seconds or more starts the count again."""
        return 0 if ran_seconds >= self.stable_after else restarts


@dataclass
class Program:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    #: where its output goes: None for the supervisor's stream, else this file (the broker's chatter)
    log_file: Path | None = None
    #: infrastructure (the broker) stops after every other program has stopped
    infrastructure: bool = False
    #: at the first start, wait until this loopback port is open before starting the next program
    port: int | None = None
    #: run beside the loop after each start (the broker's topics); what it returns is logged
    after_start: Callable[[], str] | None = None


@dataclass
class _Running:
    program: Program
    colour: Any
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    due_at: float | None = None  # when to start it (again)
    stopped: bool = False
    threads: list[threading.Thread] = field(default_factory=list)


def describe_exit(code: int) -> str:
    """`rc=1`, or `killed by SIGKILL` for a negative return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"rc={code}"


class Supervisor:
    def __init__(self, output: IO[str], *, backoff: Backoff | None = None, grace: float = 15.0) -> None:
        self.printer = Printer(output)
        self.printer.width = len(SYSTEM)
        self.backoff = backoff or Backoff()
        self.grace = grace
        self._colours = get_colours()
        self._programs: dict[str, _Running] = {}
        self._events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self._stop_reason: str | None = None
        self._exit_code = 0
        self._kill_now = False
        self._signalled_at = 0.0
        self._lock = threading.Lock()

    def add(self, program: Program) -> None:
        assert program.name not in self._programs, "program names must be unique"
        self._programs[program.name] = _Running(program, next(self._colours))
        self.printer.width = max(self.printer.width, len(program.name))

    def pid(self, name: str) -> int | None:
        running = self._programs[name].process
        return running.pid if running is not None and running.poll() is None else None

    # --- the loop ------------------------------------------------------------------------------------------

    def run(self) -> int:
        """Start every program in order, relay their output and restart the ones that die, until `stop()` or a
        signal; then stop them all. Returns 0 after a Ctrl-C or SIGTERM, else the code given to `stop()`."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for running in self._programs.values():
                if self._stop_reason is not None:
                    break
                self._start(running)
                if running.program.port is not None:
                    self._wait_for_port(running)
            while self._stop_reason is None:
                self._pump(0.1)
                self._start_due()
            self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._exit_code

    def stop(self, reason: str, exit_code: int = 0) -> None:
        """Stop everything (from any thread): the loop returns `exit_code`."""
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
                self._exit_code = exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self._stop_reason is not None and now - self._signalled_at > 1.0:
            self._kill_now = True  # a second Ctrl-C (not the same one, relayed by `uv run`): no more waiting
        if self._stop_reason is None:
            self._signalled_at = now
        self.stop(f"{signal.Signals(signum).name} received")

    # --- starting and watching -------------------------------------------------------------------------------

    def _start(self, running: _Running) -> None:
        program = running.program
        running.due_at = None
        log = open(program.log_file, "ab") if program.log_file is not None else None
        try:
            process = subprocess.Popen(
                program.argv, env=program.env, cwd=program.cwd, stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            self.system(f"{program.name} could not start: {err}")
            self._schedule_restart(running, 0.0)
            return
        finally:
            if log is not None:
                log.close()
        running.process = process
        running.started_at = time.monotonic()
        self.system(f"{program.name} started (pid={process.pid})")
        threads = [threading.Thread(target=self._wait, args=(program.name, process), daemon=True)]
        if process.stdout is not None:
            threads.append(threading.Thread(target=self._read, args=(program.name, process.stdout), daemon=True))
        if program.after_start is not None:
            threads.append(threading.Thread(target=self._after_start, args=(program,), daemon=True))
        for t in threads:
            t.start()
        running.threads = threads

    def _after_start(self, program: Program) -> None:
        assert program.after_start is not None
        try:
            said = program.after_start()
        except Exception as err:
            said = f"{program.name}: after start: {type(err).__name__}: {err}"
        if said:
            self._events.put(("line", SYSTEM, said + "\n"))

    def _read(self, name: str, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._events.put(("line", name, line))
        stream.close()

    def _wait(self, name: str, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        self._events.put(("exit", name, (process, code)))

    def _wait_for_port(self, running: _Running) -> None:
        from topup_devstack.infra import port_open

        deadline = time.monotonic() + 20
        while running.program.port is not None and not port_open(running.program.port):
            self._pump(0.05)
            if self._stop_reason is not None or time.monotonic() > deadline:
                return

    def _pump(self, timeout: float) -> None:
        """Print what arrived and handle exits, waiting at most `timeout` for the first event."""
        try:
            kind, name, data = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if kind == "line":
                self._print(name, data)
            else:
                self._exited(name, *data)
            try:
                kind, name, data = self._events.get_nowait()
            except queue.Empty:
                return

    def _exited(self, name: str, process: subprocess.Popen[bytes], code: int) -> None:
        running = self._programs[name]
        if running.process is not process:
            return
        ran = time.monotonic() - running.started_at
        if self._stop_reason is not None:
            running.stopped = True
            self.system(f"{name} stopped" + ("" if code in (0, -signal.SIGTERM) else f" ({describe_exit(code)})"))
            return
        streak = self.backoff.streak(running.restarts, ran)
        delay = self.backoff.delay(streak)
        running.restarts = streak + 1
        self.system(f"{name} exited ({describe_exit(code)}) after {ran:.1f} s; starting it again in {delay:.1f} s")
        self._schedule_restart(running, delay)

    def _schedule_restart(self, running: _Running, delay: float) -> None:
        running.process = None
        running.due_at = time.monotonic() + delay

    def _start_due(self) -> None:
        now = time.monotonic()
        for running in self._programs.values():
            if running.due_at is not None and running.due_at <= now and self._stop_reason is None:
                self._start(running)

    # --- stopping ------------------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        self.system(f"{self._stop_reason}; stopping everything")
        services = [r for r in self._programs.values() if not r.program.infrastructure]
        infrastructure = [r for r in self._programs.values() if r.program.infrastructure]
        self._stop_group(services, self.grace)
        self._stop_group(infrastructure, 5.0)

    def _stop_group(self, group: list[_Running], grace: float) -> None:
        alive = [r for r in group if r.process is not None and r.process.poll() is None]
        for running in group:
            running.due_at = None
        for running in alive:
            assert running.process is not None
            self._signal(running.process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(r.process is not None and r.process.poll() is None for r in alive):
            if self._kill_now or time.monotonic() > deadline:
                for running in alive:
                    if running.process is not None and running.process.poll() is None:
                        self.system(f"{running.program.name} did not stop within {grace:.0f} s: SIGKILL")
                        self._signal(running.process, signal.SIGKILL, group=True)
                break
            self._pump(0.1)
        for running in alive:
            if running.process is not None:
                running.process.wait()
            for t in running.threads:
                t.join(2)
        self._pump(0.0)

    @staticmethod
    def _signal(process: subprocess.Popen[bytes], sig: signal.Signals, *, group: bool = False) -> None:
        try:
            if group:
                os.killpg(process.pid, sig)  # its own session: whatever it started goes too
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass

    # --- output --------------------------------------------------------------------------------------------

    def _print(self, name: str, data: bytes | str, colour: Any = None) -> None:
        running = self._programs.get(name)
        self.printer.write(Message(type="line", data=data, time=datetime.datetime.now(), name=name,
                                   colour=colour if running is None else running.colour))

    def system(self, text: str) -> None:
        self._print(SYSTEM, text + "\n")

