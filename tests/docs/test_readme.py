"""What a new user reads first agrees with what runs: the README and the `make run` banner name the same eight
sandbox numbers, the port table names every port the launcher opens, the two demo secrets are told apart, and no
document is cited that the repository does not hold."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from topup_devstack.launcher import Ports, banner

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SANDBOX = [f"1860000000{i}" for i in range(1, 9)]


def test_the_readme_and_the_banner_list_the_sandbox_numbers_01_to_08() -> None:
    table = README.split("### BOSS sandbox numbers", 1)[1].split("###", 1)[0]
    assert re.findall(r"^\| (1860000000[0-9]) \|", table, re.M) == SANDBOX
    shown = banner(Ports(), "PostgreSQL 18")
    assert all(n in shown for n in SANDBOX)


def test_the_port_table_names_every_port_of_make_run() -> None:
    table = README.split("| process | kind | port (make run) | owns schema |", 1)[1].split("\n\n", 1)[0]
    ports = {str(v) for k, v in dataclasses.asdict(Ports()).items() if k != "metrics_base"}
    assert ports <= set(re.findall(r"\b[0-9]{4,5}\b", table)), ports
    assert "9092" in table  # the broker


def test_the_server_secret_and_the_cli_secret_are_told_apart() -> None:
    assert re.search(r"`TOPUP_DEMO_CHANNEL_SECRET` is the \*\*server's\*\*", README)
    assert re.search(r"`TOPUP_CHANNEL_SECRET` is the \*\*CLI's\*\*", README)


def test_every_cited_document_is_in_the_repository() -> None:
    assert "DESIGN.md" not in README
    for target in re.findall(r"\]\(([^)#:]+)\)", README):  # relative links
        assert (ROOT / target).exists(), target
