"""The CLI's own logic: exit codes that tell success from failure, when an order rests, and secrets that never
come from the command line (they would land in the shell's history and in `ps`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from topup_client import is_settled
from topup_client.cli import EXIT, exit_code_for, main, read_secret


def _order(status: str, method: str = "alipay", paid_fen: int = 5000) -> dict[str, object]:
    return {"status": status, "payment": {"method": method, "paid_fen": paid_fen}}


@pytest.mark.parametrize(("order", "settled"), [
    (_order("PENDING"), False), (_order("PROCESSING"), False),
    (_order("SUCCEEDED"), True), (_order("REFUNDED"), True), (_order("UNDER_REVIEW"), True),
    # a paid order that failed or was rejected rests only once its refund is paid (REFUNDED)
    (_order("FAILED"), False), (_order("REJECTED"), False),
    # nothing to refund: a voucher redemption, a free order
    (_order("FAILED", "voucher", 0), True), (_order("REJECTED", "voucher", 0), True),
    (_order("FAILED", paid_fen=0), True),
])
def test_when_an_order_rests(order: dict[str, object], settled: bool) -> None:
    assert is_settled(order) is settled


def test_exit_codes_tell_success_from_failure() -> None:
    assert exit_code_for(_order("SUCCEEDED")) == EXIT["ok"] == 0
    for order in (_order("REFUNDED"), _order("FAILED", "voucher", 0), _order("REJECTED", "voucher", 0)):
        assert exit_code_for(order) == EXIT["not_credited"] != 0
    assert exit_code_for(_order("UNDER_REVIEW")) == EXIT["under_review"] != 0
    # not resting yet when the wait ended: still processing, or failed with the refund under way
    assert exit_code_for(_order("PROCESSING")) == exit_code_for(_order("FAILED")) == EXIT["timeout"] != 0
    assert len(set(EXIT.values())) == len(EXIT)


def test_a_secret_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-the-file\n")
    assert read_secret(str(secret_file), {"TOPUP_CHANNEL_SECRET": "from-env"}) == "from-the-file"
    assert read_secret(None, {"TOPUP_CHANNEL_SECRET_FILE": str(secret_file)}) == "from-the-file"
    assert read_secret(None, {"TOPUP_CHANNEL_SECRET": "from-env"}) == "from-env"
    assert read_secret(None, {}) == "demo-secret"  # the dev stack's demo channel


@pytest.mark.parametrize("argv", [
    ["--secret", "s3cret", "get", "x"], ["--secret=s3cret", "get", "x"], ["--secre", "s3cret", "get", "x"],
    ["redeem", "18612345678", "--pin", "123456789012345678"],
])
def test_a_secret_on_the_command_line_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT["usage"]
    err = capsys.readouterr().err
    assert "s3cret" not in err and "123456789012345678" not in err
    assert "is not accepted" in err or "ambiguous option" in err


def test_an_unreadable_secret_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--secret-file", str(tmp_path / "missing"), "get", "x"]) == EXIT["usage"]
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["vouchers", "show", "b1", "--token", "s3cret"], ["vouchers", "activate", "b1", "--token=s3cret"],
    ["staff-token", "--sub", "alice", "--role", "admin", "--jwt-secret", "s3cret"],
])
def test_a_staff_secret_on_the_command_line_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT["usage"]
    err = capsys.readouterr().err
    assert "s3cret" not in err and "is not accepted" in err


def test_a_staff_token_the_gateway_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.admin_auth import Role, verify_token
    from gateway.settings import GatewaySettings

    assert main(["staff-token", "--sub", "alice", "--role", "reviewer", "--role", "finance"]) == EXIT["ok"]
    staff = verify_token(GatewaySettings(), capsys.readouterr().out.strip())
    assert (staff.id, staff.roles) == ("alice", frozenset({Role.REVIEWER, Role.FINANCE}))
