"""`topup`: try the gateway from a terminal without writing HMAC by hand.

    topup recharge 18612345678 CREDIT_50 --wait      # signed POST /v1/recharges, then wait until the order rests
    topup redeem 18612345678 --wait                  # redeem a voucher card (the PIN: see below)
    topup orders list 18612345678                    # your orders to an account, newest first
    topup orders show <order_id>                     # one order with its status history
    topup get <order_id>
    topup find <channel_order_id>
    topup products 18612345678
    topup curl POST /v1/recharges '{"...": "..."}'   # print a ready-to-run signed curl command

Settings come from the environment: TOPUP_URL (http://127.0.0.1:8080), TOPUP_CHANNEL_ID (demo). Secrets never
come from an argument (it would stay in the shell history and show in `ps`): the channel's secret is read from
--secret-file, else the file TOPUP_CHANNEL_SECRET_FILE names, else TOPUP_CHANNEL_SECRET, else the dev stack's
`demo-secret`; or sign SHA256withRSA with the PEM key of --private-key-file / TOPUP_CHANNEL_PRIVATE_KEY_FILE.
A voucher PIN is read from --pin-file (`-`: standard input), else TOPUP_VOUCHER_PIN, else asked for.

--wait polls until the order rests: SUCCEEDED, REFUNDED (a paid order that FAILED or was REJECTED waits for its
refund), UNDER_REVIEW, or FAILED for a voucher; each status is shown on stderr as it comes.

Exit codes: 0 done (with --wait: SUCCEEDED); 1 the gateway refused the request (its code on stderr); 2 usage
(or an unreadable secret file); 3 the order ended without a credit (REFUNDED, FAILED, REJECTED); 4 the order is
UNDER_REVIEW (a person decides); 5 --timeout passed before the order rested.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from topup_client.client import ApiError, TopupClient, is_settled
from topup_client.signing import load_private_key, signed_headers

EXIT = {"ok": 0, "refused": 1, "usage": 2, "not_credited": 3, "under_review": 4, "timeout": 5}
DEMO_SECRET = "demo-secret"
ORDER_COLUMNS = ("created_at", "order_id", "channel_order_id", "account", "sku", "paid_fen", "status")


def exit_code_for(order: Mapping[str, Any]) -> int:
    """The exit code of a waited-for order: success only for SUCCEEDED."""
    if not is_settled(dict(order)):
        return EXIT["timeout"]
    if order["status"] == "SUCCEEDED":
        return EXIT["ok"]
    if order["status"] == "UNDER_REVIEW":
        return EXIT["under_review"]
    return EXIT["not_credited"]


def read_secret(path: str | None, env: Mapping[str, str]) -> str:
    """The channel's HMAC secret: from a file (argument, then TOPUP_CHANNEL_SECRET_FILE), else the environment,
    else the demo channel's. Raises OSError for a file that cannot be read."""
    path = path or env.get("TOPUP_CHANNEL_SECRET_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return env.get("TOPUP_CHANNEL_SECRET") or DEMO_SECRET


def read_pin(path: str | None, env: Mapping[str, str]) -> str | None:
    if path == "-":
        return sys.stdin.readline().strip()
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    if env.get("TOPUP_VOUCHER_PIN"):
        return env["TOPUP_VOUCHER_PIN"]
    if sys.stdin.isatty():
        return getpass.getpass("voucher PIN: ").strip()
    return None


class _Refused(argparse.Action):
    """An option that would put a secret on the command line: refused, without echoing its value."""

    def __init__(self, option_strings: Sequence[str], dest: str, hint: str = "", **kwargs: Any) -> None:
        self.hint = hint
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> NoReturn:
        parser.error(f"{option_string} is not accepted: a secret given as an argument stays in the shell history "
                     f"and shows in ps; {self.hint}")


def _out(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _cell(order: Mapping[str, Any], column: str) -> str:
    if column == "account":
        return str(order["account"]["id"])
    if column == "paid_fen":
        return str(order["payment"]["paid_fen"])
    return str(order.get(column) or "")


def _table(orders: Sequence[Mapping[str, Any]]) -> str:
    rows = [list(ORDER_COLUMNS)] + [[_cell(o, c) for c in ORDER_COLUMNS] for o in orders]
    widths = [max(len(r[i]) for r in rows) for i in range(len(ORDER_COLUMNS))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows) + "\n"


def _show(data: Any, output: str) -> None:
    if output == "table" and isinstance(data, dict) and "orders" in data:
        sys.stdout.write(_table(data["orders"]))
        if data.get("next_cursor"):
            sys.stdout.write(f"(more: --cursor {data['next_cursor']})\n")
    elif output == "table" and isinstance(data, dict) and "order_id" in data:
        sys.stdout.write(_table([data]))
        for change in data.get("history") or []:
            sys.stdout.write(f"  {change['at']}  {change['from_status'] or '-'} -> {change['to_status']}"
                             f"  {change['transition']}  {change['reason_code'] or ''}".rstrip() + "\n")
    else:
        _out(data)


def _wait(client: TopupClient, order: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll until the order rests or `timeout` passes, showing each status on stderr."""
    started = time.monotonic()
    shown = None
    while True:
        if order["status"] != shown:
            shown = order["status"]
            note = " (refund under way)" if shown in ("FAILED", "REJECTED") and not is_settled(order) else ""
            sys.stderr.write(f"[{time.monotonic() - started:5.1f}s] {order['order_id']} {shown}{note}\n")
        if is_settled(order) or time.monotonic() - started > timeout:
            return order
        time.sleep(0.5)
        order = client.get_recharge(order["order_id"])


def _account_type(account: str, given: str | None) -> str:
    return given or ("broadband" if account.startswith("0") else "mobile")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="topup", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("TOPUP_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--channel", default=os.environ.get("TOPUP_CHANNEL_ID", "demo"))
    parser.add_argument("--secret-file", default=None, help="a file holding the channel's HMAC secret")
    parser.add_argument("--secret", nargs="?", action=_Refused,
                        hint="set TOPUP_CHANNEL_SECRET, or use --secret-file / TOPUP_CHANNEL_SECRET_FILE")
    parser.add_argument("--private-key-file", default=os.environ.get("TOPUP_CHANNEL_PRIVATE_KEY_FILE"),
                        help="sign SHA256withRSA with this PEM private key instead of the HMAC secret")
    parser.add_argument("--output", choices=["json", "table"], default="json")
    sub = parser.add_subparsers(dest="command", required=True)

    def waiting(p: argparse.ArgumentParser) -> None:
        p.add_argument("--wait", action="store_true", help="poll until the order rests (see the exit codes)")
        p.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits at most (120)")

    r = sub.add_parser("recharge", help="create a recharge order")
    r.add_argument("account")
    r.add_argument("sku")
    r.add_argument("--paid-fen", type=int, help="what the subscriber paid (default: the quoted price)")
    r.add_argument("--method", default="alipay")
    r.add_argument("--channel-order-id", default=None)
    r.add_argument("--account-type", default="mobile", choices=["mobile", "broadband"])
    r.add_argument("--notify-url", default=None)
    waiting(r)

    v = sub.add_parser("redeem", help="redeem a voucher card for an account (the PIN from --pin-file, "
                                      "TOPUP_VOUCHER_PIN, or asked for)")
    v.add_argument("account")
    v.add_argument("--pin-file", default=None, help="a file holding the PIN; - for standard input")
    v.add_argument("--pin", nargs="?", action=_Refused, hint="use --pin-file, TOPUP_VOUCHER_PIN or the prompt")
    v.add_argument("--channel-order-id", default=None)
    v.add_argument("--account-type", default=None, choices=["mobile", "broadband"])
    v.add_argument("--notify-url", default=None)
    waiting(v)

    o = sub.add_parser("orders", help="your orders: list (to an account) and show (one, with its history)")
    osub = o.add_subparsers(dest="orders_command", required=True)
    ol = osub.add_parser("list", help="your orders to an account, newest first")
    ol.add_argument("account")
    ol.add_argument("--account-type", default=None, choices=["mobile", "broadband"])
    ol.add_argument("--status", default=None, help="only this status")
    ol.add_argument("--limit", type=int, default=20)
    ol.add_argument("--cursor", default=None, help="next_cursor of the previous page")
    os_ = osub.add_parser("show", help="one order with its status history")
    os_.add_argument("order_id")

    g = sub.add_parser("get", help="one order by its order_id")
    g.add_argument("order_id")
    f = sub.add_parser("find", help="one order by your channel_order_id")
    f.add_argument("channel_order_id")
    p = sub.add_parser("products", help="what this channel may sell to an account")
    p.add_argument("account")
    p.add_argument("--account-type", default=None, choices=["mobile", "broadband"])
    c = sub.add_parser("curl", help="print a signed curl command")
    c.add_argument("method")
    c.add_argument("path")
    c.add_argument("body", nargs="?", default="")
    return parser


def _fail(message: str, code: str = "usage") -> int:
    sys.stderr.write(f"topup: {message}\n")
    return EXIT[code]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    private_key = None
    try:
        secret = read_secret(args.secret_file, os.environ)
        if args.private_key_file:
            with open(args.private_key_file, "rb") as pem:
                private_key = load_private_key(pem.read())
    except OSError as err:
        return _fail(f"cannot read {err.filename}: {err.strerror}")
    except ValueError as err:
        return _fail(f"not a usable private key: {err}")
    if args.command == "curl":
        body = args.body.encode()
        headers = signed_headers(args.channel, secret, args.method, args.path, body, private_key=private_key)
        parts = ["curl", "-sS", "-X", args.method.upper(), args.url.rstrip("/") + args.path]
        for k, v in {**headers, "Content-Type": "application/json"}.items():
            parts += ["-H", f"{k}: {v}"]
        if body:
            parts += ["--data-raw", args.body]
        sys.stdout.write(" ".join(shlex.quote(x) for x in parts) + "\n")
        return EXIT["ok"]

    with TopupClient(args.url, args.channel, None if private_key else secret, private_key=private_key) as client:
        try:
            return _run(client, args)
        except ApiError as err:
            details = err.body.get("details") if isinstance(err.body, dict) else None
            sys.stderr.write(f"topup: {err.status} {err.code}: {err.message}"
                             + (f" (request_id {err.request_id})" if err.request_id else "") + "\n")
            if details:
                sys.stderr.write(json.dumps(details, ensure_ascii=False, indent=2) + "\n")
            return EXIT["refused"]


def _run(client: TopupClient, args: argparse.Namespace) -> int:
    if args.command in ("recharge", "redeem"):
        channel_order_id = args.channel_order_id or f"cli-{uuid.uuid4().hex[:16]}"
        if args.command == "recharge":
            paid = args.paid_fen
            if paid is None:
                offer = client.products(args.account, args.account_type)
                prices = {p["sku"]: p["price_fen"] for p in offer["products"]}
                if args.sku not in prices:
                    return _fail(f"{args.sku} is not offered to {args.account}")
                paid = prices[args.sku]
            order = client.create_recharge(
                channel_order_id=channel_order_id, account_type=args.account_type, account_id=args.account,
                sku=args.sku, payment_method=args.method, transaction_id=f"PAY{uuid.uuid4().hex[:20]}",
                paid_fen=paid, notify_url=args.notify_url)
        else:
            pin = read_pin(args.pin_file, os.environ)
            if not pin:
                return _fail("no PIN: use --pin-file (- for standard input), TOPUP_VOUCHER_PIN, or a terminal")
            order = client.redeem_voucher(
                channel_order_id=channel_order_id, account_id=args.account, pin=pin,
                account_type=_account_type(args.account, args.account_type), notify_url=args.notify_url)
        if not args.wait:
            _show(order, args.output)
            return EXIT["ok"]
        order = _wait(client, order, args.timeout)
        _show(order, args.output)
        if not is_settled(order):
            sys.stderr.write(f"topup: still {order['status']} after {args.timeout:g} s\n")
        return exit_code_for(order)
    if args.command == "orders":
        if args.orders_command == "list":
            query = {"limit": str(args.limit), **({"status": args.status} if args.status else {}),
                     **({"cursor": args.cursor} if args.cursor else {})}
            _show(client.account_orders(args.account, _account_type(args.account, args.account_type), **query),
                  args.output)
        else:
            _show(client.get_recharge(args.order_id, include_history=True), args.output)
    elif args.command == "get":
        _show(client.get_recharge(args.order_id), args.output)
    elif args.command == "find":
        _show(client.find_recharge(args.channel_order_id), args.output)
    elif args.command == "products":
        _out(client.products(args.account, args.account_type))
    return EXIT["ok"]


if __name__ == "__main__":
    sys.exit(main())
