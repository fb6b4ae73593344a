"""The `topup` CLI as a person uses it, as its own process against the running platform: exit codes that tell
success from failure (and --wait that waits past FAILED to the final REFUNDED), secrets from the environment or
a file, voucher redemption, and the orders commands."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.e2e.conftest import some_number
from tests.e2e.test_vouchers import _create_batch
from topup_devstack.stack import Stack


async def topup(stack: Stack, *argv: str, stdin: str = "", **env: str) -> tuple[int, str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOPUP_")}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "topup_client.cli", *argv], input=stdin, capture_output=True,
                              text=True, timeout=120, check=False,
                              env={**environ, "TOPUP_URL": stack.gateway, "TOPUP_CHANNEL_SECRET": "demo-secret",
                                   **env})

    done = await asyncio.to_thread(run)
    return done.returncode, done.stdout, done.stderr


async def test_wait_succeeds_with_exit_0(stack: Stack) -> None:
    code, out, err = await topup(stack, "recharge", some_number(), "CREDIT_10", "--wait")
    assert code == 0, err
    assert json.loads(out)["status"] == "SUCCEEDED"
    assert "SUCCEEDED" in err  # the progress display


async def test_wait_goes_past_failed_to_refunded_and_exits_non_zero(stack: Stack) -> None:
    code, out, err = await topup(stack, "recharge", "18600000001", "CREDIT_10", "--wait", "--timeout", "60")
    assert code == 3, err
    order = json.loads(out)
    assert order["status"] == "REFUNDED"
    assert err.strip().splitlines()[-1].endswith("REFUNDED")


async def test_a_wait_that_times_out_says_so(stack: Stack) -> None:
    code, out, err = await topup(stack, "recharge", some_number(), "CREDIT_10", "--wait", "--timeout", "0")
    assert code == 5, err
    assert json.loads(out)["status"] in ("PENDING", "PROCESSING")
    assert "after 0 s" in err


async def test_the_secret_from_a_file_and_a_refusal_on_stderr(stack: Stack, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("demo-secret\n")
    code, out, err = await topup(stack, "--secret-file", str(secret_file), "products", some_number(),
                                 TOPUP_CHANNEL_SECRET="")
    assert code == 0, err
    assert json.loads(out)["products"]
    code, out, err = await topup(stack, "products", some_number(), TOPUP_CHANNEL_SECRET="not-the-secret")
    assert code == 1 and out == ""
    assert "401 AUTH_SIGNATURE_INVALID" in err and "string_to_sign" in err
    assert "not-the-secret" not in err


async def test_redeem_a_voucher_with_the_pin_from_stdin_or_the_environment(stack: Stack) -> None:
    _, cards = await _create_batch(stack, 2, "CREDIT_10")
    account = some_number()
    code, out, err = await topup(stack, "redeem", account, "--pin-file", "-", "--wait", stdin=cards[0]["pin"] + "\n")
    assert code == 0, err
    order = json.loads(out)
    assert (order["status"], order["payment"]["method"]) == ("SUCCEEDED", "voucher")
    assert cards[0]["pin"] not in out + err
    code, out, err = await topup(stack, "redeem", account, TOPUP_VOUCHER_PIN=cards[1]["pin"])
    assert code == 0, err
    code, out, err = await topup(stack, "redeem", account, TOPUP_VOUCHER_PIN=cards[0]["pin"])  # spent
    assert code == 1 and "VOUCHER_ALREADY_REDEEMED" in err
    code, out, err = await topup(stack, "redeem", account)  # no PIN anywhere, and no terminal to ask on
    assert code == 2 and "no PIN" in err


async def test_orders_list_and_show(stack: Stack) -> None:
    account = some_number()
    code, out, _ = await topup(stack, "recharge", account, "CREDIT_10", "--wait")
    order: dict[str, Any] = json.loads(out)
    code, out, err = await topup(stack, "orders", "list", account)
    assert code == 0, err
    assert [o["order_id"] for o in json.loads(out)["orders"]] == [order["order_id"]]
    code, out, err = await topup(stack, "--output", "table", "orders", "list", account)
    assert code == 0, err
    header, row = out.splitlines()[:2]
    assert header.split()[:2] == ["created_at", "order_id"] and order["order_id"] in row and "SUCCEEDED" in row
    code, out, err = await topup(stack, "orders", "show", order["order_id"])
    assert code == 0, err
    shown = json.loads(out)
    assert shown["order_id"] == order["order_id"]
    assert [h["to_status"] for h in shown["history"]][-1] == "SUCCEEDED"
    code, out, err = await topup(stack, "orders", "show", "no-such-order")
    assert code == 1 and "ORDER_NOT_FOUND" in err


def _walkthrough() -> str:
    """The README's voucher walkthrough, as written."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- voucher-walkthrough:start -->", 1)[1].split("<!-- voucher-walkthrough:end -->", 1)[0]
    return block.strip().removeprefix("```bash").removesuffix("```").strip()


async def test_the_readme_voucher_walkthrough_works_as_written(stack: Stack, tmp_path: Path) -> None:
    """Batch, (not active yet), activate, redeem: the README's commands in bash, in a fresh directory; only the
    paths and the account (a fresh number: the risk engine counts recharges per number) are this machine's."""
    account = some_number()
    script = _walkthrough().replace(".venv/bin/topup", str(Path(sys.executable).with_name("topup")))
    script = script.replace("18612345678", account)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TOPUP_", "GATEWAY_"))}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, check=False, env={**environ, "TOPUP_URL": stack.gateway})

    done = await asyncio.to_thread(run)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "422 VOUCHER_NOT_ACTIVE" in done.stderr  # the redemption before activation
    cards = (tmp_path / "cards.csv").read_text().splitlines()
    assert cards[0] == "card_number,pin,sku,face_value_fen,expires_at" and len(cards) == 4
    assert (tmp_path / "cards.csv").stat().st_mode & 0o077 == 0  # the PINs' file: its owner's only
    pin = (tmp_path / "pin.txt").read_text().strip()
    assert pin and pin not in done.stdout + done.stderr
    objects = [json.loads(chunk) for chunk in _json_objects(done.stdout)]
    assert {"changed": 3, "skipped": 0} in objects
    [order] = [o for o in objects if "order_id" in o]
    assert (order["status"], order["account"]["id"], order["payment"]["method"]) == ("SUCCEEDED", account, "voucher")
    [batch] = [o for o in objects if "states" in o]
    assert batch["states"] == {"redeemed": 1, "active": 2}


def _json_objects(text: str) -> list[str]:
    """The JSON documents printed one after another (pretty-printed, each from a line starting with '{')."""
    chunks, current = [], []
    for line in text.splitlines():
        if line.startswith("{") and current:
            chunks.append("\n".join(current))
            current = []
        if line.startswith("{") or current:
            current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


async def test_staff_token_and_voucher_commands_refuse_without_a_token(stack: Stack) -> None:
    code, out, err = await topup(stack, "vouchers", "show", "00000000-0000-0000-0000-000000000000")
    assert code == 2 and "no staff token" in err
    code, out, err = await topup(stack, "vouchers", "show", "00000000-0000-0000-0000-000000000000",
                                 TOPUP_STAFF_TOKEN="not-a-token")
    assert code == 1 and "401 ADMIN_AUTH_REQUIRED" in err
    code, out, err = await topup(stack, "staff-token", "--sub", "Rita", "--role", "admin")
    assert code == 2 and out == ""
    code, out, err = await topup(stack, "vouchers", "show", "x", "--token", "s3cret")
    assert code == 2 and "s3cret" not in err
