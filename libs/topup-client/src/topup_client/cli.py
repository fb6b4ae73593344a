"""`topup`: try the gateway from a terminal without writing HMAC by hand.

    topup recharge 18612345678 CREDIT_50 --wait      # signed POST /v1/recharges, then wait until the order rests
    topup redeem 18612345678 --wait                  # redeem a voucher card (the PIN: see below)
    topup orders list 18612345678                    # your orders to an account, newest first
    topup orders show <order_id>                     # one order with its status history
    topup history --from 2026-11-24 --to 2026-11-25  # all your orders, newest first (--status, --cursor)
    topup statement 2026-11-24                       # the day's statement (对账单), CSV with its trailer
    topup notifications list|show|replay             # our callbacks to your notify_url
    topup staff-token --sub alice --role admin       # a staff bearer token for the admin API (below)
    topup vouchers batch CREDIT_50 --count 10 --out cards.csv   # staff: issue cards (the PINs go to the file)
    topup vouchers activate <batch_id>               # staff: sell them (a card redeems only once active)
    topup get <order_id>
    topup find <channel_order_id>
    topup products 18612345678
    topup curl POST /v1/recharges '{"...": "..."}'   # print a ready-to-run signed curl command

Settings come from the environment: TOPUP_URL (http://127.0.0.1:8080), TOPUP_CHANNEL_ID (demo). Secrets never
come from an argument (it would stay in the shell history and show in `ps`): the channel's secret is read from
--secret-file, else the file TOPUP_CHANNEL_SECRET_FILE names, else TOPUP_CHANNEL_SECRET, else the dev stack's
`demo-secret`; or sign SHA256withRSA with the PEM key of --private-key-file / TOPUP_CHANNEL_PRIVATE_KEY_FILE.
A voucher PIN is read from --pin-file (`-`: standard input), else TOPUP_VOUCHER_PIN, else asked for.

Staff commands (vouchers) send TOPUP_STAFF_TOKEN (or the file --staff-token-file / TOPUP_STAFF_TOKEN_FILE names).
`staff-token` signs one with the gateway's GATEWAY_ADMIN_JWT_SECRET (or the file --jwt-secret-file names), else
the development stack's secret.

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
import re
import shlex
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from topup_client import staff
from topup_client.client import ApiError, TopupClient
from topup_client.models import Model, Order, is_settled
from topup_client.signing import load_private_key, signed_headers

EXIT = {"ok": 0, "refused": 1, "usage": 2, "not_credited": 3, "under_review": 4, "timeout": 5}
DEMO_SECRET = "demo-secret"
ORDER_COLUMNS = ("created_at", "order_id", "channel_order_id", "account", "sku", "paid_fen", "status")


def exit_code_for(order: Order | Mapping[str, Any]) -> int:
    """The exit code of a waited-for order: success only for SUCCEEDED."""
    if not is_settled(order if isinstance(order, Order) else dict(order)):
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
    if isinstance(data, Model):
        data = data.to_json()
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _cell(order: Mapping[str, Any], column: str) -> str:
    if column == "account":
        return str(order["account"]["id"])
    if column == "paid_fen":
        return str(order["payment"]["paid_fen"])
    return str(order.get(column) or "")


def _grid(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    table = [list(columns), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table) + "\n"


def _table(orders: Sequence[Mapping[str, Any]]) -> str:
    return _grid(ORDER_COLUMNS, [[_cell(o, c) for c in ORDER_COLUMNS] for o in orders])


NOTIFICATION_COLUMNS = ("created_at", "notify_id", "order_id", "order_status", "state", "attempts")


def _show(data: Any, output: str) -> None:
    if isinstance(data, Model):
        data = data.to_json()
    if output == "table" and isinstance(data, dict) and "notifications" in data:
        sys.stdout.write(_grid(NOTIFICATION_COLUMNS, [[str(n[c]) for c in NOTIFICATION_COLUMNS]
                                                      for n in data["notifications"]]))
        if data.get("next_cursor"):
            sys.stdout.write(f"(more: --cursor {data['next_cursor']})\n")
        return
    if output == "table" and isinstance(data, dict) and "notify_id" in data:
        sys.stdout.write(_grid(NOTIFICATION_COLUMNS, [[str(data[c]) for c in NOTIFICATION_COLUMNS]]))
        for a in data.get("attempt_log") or []:
            sys.stdout.write(f"  {a['at']}  #{a['attempt']} {a['trigger']}  HTTP {a['http_status'] or '-'}"
                             f"  {'acknowledged' if a['acknowledged'] else (a['error'] or 'not acknowledged')}\n")
        return
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


def _wait(client: TopupClient, order: Order, timeout: float) -> Order:
    """Poll until the order rests or `timeout` passes, showing each status on stderr."""
    started = time.monotonic()

    def progress(o: Order) -> None:
        note = " (refund under way)" if o.status in ("FAILED", "REJECTED") and not o.settled else ""
        sys.stderr.write(f"[{time.monotonic() - started:5.1f}s] {o.order_id} {o.status}{note}\n")

    shown = order.status
    progress(order)

    def changed(o: Order) -> None:
        nonlocal shown
        if o.status != shown:
            shown = o.status
            progress(o)

    if order.settled:
        return order
    return client.wait(order.order_id, timeout=timeout, on_status=changed)


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

    h = sub.add_parser("history", help="all your orders, newest first (created in [--from, --to))")
    h.add_argument("--from", dest="created_from", default=None, help="ISO 8601 with an offset, or YYYY-MM-DD (Beijing)")
    h.add_argument("--to", dest="created_to", default=None, help="ISO 8601 with an offset, or YYYY-MM-DD (Beijing)")
    h.add_argument("--status", action="append", default=[], help="only these statuses (repeat)")
    h.add_argument("--limit", type=int, default=50)
    h.add_argument("--cursor", default=None, help="next_cursor of the previous page")

    st = sub.add_parser("statement", help="the statement (对账单) of one Beijing day: CSV with its trailer")
    st.add_argument("date", help="YYYY-MM-DD (Beijing time)")

    n = sub.add_parser("notifications", help="our callbacks to your notify_url: list, show (with attempts), replay")
    nsub = n.add_subparsers(dest="notifications_command", required=True)
    nl = nsub.add_parser("list", help="newest first")
    nl.add_argument("--order-id", default=None)
    nl.add_argument("--state", action="append", default=[], choices=["pending", "delivered", "superseded", "gave_up"])
    nl.add_argument("--limit", type=int, default=50)
    nl.add_argument("--cursor", default=None)
    nsub.add_parser("show", help="one, with every attempt and what your endpoint answered").add_argument("notify_id")
    nsub.add_parser("replay", help="send it again now (same notify_id and body)").add_argument("notify_id")

    t = sub.add_parser("staff-token", help="sign a staff bearer token for the admin API (needs the gateway's "
                                           "GATEWAY_ADMIN_JWT_SECRET, or the dev stack's)")
    t.add_argument("--sub", required=True, help="the member of staff (lower-case ASCII, e.g. alice)")
    t.add_argument("--role", action="append", required=True, choices=list(staff.ROLES))
    t.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (8 hours)")
    t.add_argument("--jwt-secret-file", default=None, help="a file holding GATEWAY_ADMIN_JWT_SECRET")

    vb = sub.add_parser("vouchers", help="staff: voucher card batches (TOPUP_STAFF_TOKEN)")
    vsub = vb.add_subparsers(dest="vouchers_command", required=True)
    vbatch = vsub.add_parser("batch", help="issue a batch; its cards and PINs go to --out (the only time they are "
                                           "given out)")
    vbatch.add_argument("sku")
    vbatch.add_argument("--count", type=int, required=True)
    vbatch.add_argument("--out", required=True, help="the export file (card_number,pin,...), written mode 0600")
    vbatch.add_argument("--expires-in-days", type=int, default=365)
    vbatch.add_argument("--note", default="")
    vbatch.add_argument("-q", "--quiet", action="store_true", help="print only the batch id")
    for action in ("activate", "freeze", "unfreeze", "void"):
        va = vsub.add_parser(action, help=f"{action} a batch (or --first/--last a range of its cards)")
        va.add_argument("batch_id")
        va.add_argument("--first", default=None, help="first card of a range (or the one card)")
        va.add_argument("--last", default=None, help="last card of the range")
        va.add_argument("--reason", default="")
    vsub.add_parser("show", help="a batch and its cards per state").add_argument("batch_id")
    for p_ in (t, *vsub.choices.values()):
        p_.add_argument("--staff-token-file", default=os.environ.get("TOPUP_STAFF_TOKEN_FILE"),
                        help="a file holding the staff token (else TOPUP_STAFF_TOKEN)")
        p_.add_argument("--token", nargs="?", action=_Refused, hint="set TOPUP_STAFF_TOKEN or --staff-token-file")
        p_.add_argument("--jwt-secret", nargs="?", action=_Refused, hint="set GATEWAY_ADMIN_JWT_SECRET or use "
                                                                          "--jwt-secret-file")

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


def _staff_command(args: argparse.Namespace) -> int:
    if args.command == "staff-token":
        try:
            if args.jwt_secret_file:
                secret = Path(args.jwt_secret_file).read_text(encoding="utf-8").strip()
            else:
                secret = os.environ.get("GATEWAY_ADMIN_JWT_SECRET") or staff.DEV_ADMIN_JWT_SECRET
        except OSError as err:
            return _fail(f"cannot read {err.filename}: {err.strerror}")
        if not re.fullmatch(r"[a-z][a-z0-9._-]{0,63}", args.sub):
            return _fail("a staff id is lower-case ASCII (letters, digits, . _ -), e.g. alice")
        sys.stdout.write(staff.issue_token(secret, args.sub, sorted(set(args.role)), args.ttl) + "\n")
        return EXIT["ok"]
    try:
        token = (Path(args.staff_token_file).read_text(encoding="utf-8").strip() if args.staff_token_file
                 else os.environ.get("TOPUP_STAFF_TOKEN", ""))
    except OSError as err:
        return _fail(f"cannot read {err.filename}: {err.strerror}")
    if not token:
        return _fail("no staff token: export TOPUP_STAFF_TOKEN=$(topup staff-token --sub you --role admin)")
    try:
        with staff.StaffClient(args.url, token) as admin:
            if args.vouchers_command == "batch":
                issued = admin.create_voucher_batch(
                    args.sku, args.count, datetime.now(UTC) + timedelta(days=args.expires_in_days), args.note)
                fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(issued.csv_text)
                if args.quiet:
                    sys.stdout.write(issued.batch_id + "\n")
                else:
                    _show({"batch_id": issued.batch_id, "sku": args.sku, "count": issued.count, "file": args.out},
                          args.output)
            elif args.vouchers_command == "show":
                _show(admin.voucher_batch(args.batch_id), args.output)
            else:
                _show(admin.change_vouchers(args.batch_id, args.vouchers_command, card_first=args.first,
                                            card_last=args.last, reason=args.reason), args.output)
    except staff.StaffError as err:
        sys.stderr.write(f"topup: {err.status} {err.code}: {err.message}\n")
        return EXIT["refused"]
    return EXIT["ok"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("staff-token", "vouchers"):
        return _staff_command(args)
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
                paid = client.products(args.account, args.account_type).price_of(args.sku)
                if paid is None:
                    return _fail(f"{args.sku} is not offered to {args.account}")
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
        if not order.settled:
            sys.stderr.write(f"topup: still {order.status} after {args.timeout:g} s\n")
        return exit_code_for(order)
    if args.command == "orders":
        if args.orders_command == "list":
            _show(client.account_orders(args.account, _account_type(args.account, args.account_type),
                                        status=[args.status] if args.status else [], limit=args.limit,
                                        cursor=args.cursor), args.output)
        else:
            _show(client.get_recharge(args.order_id, include_history=True), args.output)
    elif args.command == "history":
        _show(client.history(from_=args.created_from, to=args.created_to, status=args.status, limit=args.limit,
                             cursor=args.cursor), args.output)
    elif args.command == "statement":
        statement = client.statement(args.date)
        if args.output == "table":
            sys.stdout.write(_grid(("status", "count", "paid_fen", "refund_fen"), [
                [s, str(t.count), str(t.paid_fen), str(t.refund_fen)] for s, t in statement.totals.items()]))
        else:
            sys.stdout.write(statement.csv_text)
    elif args.command == "notifications":
        if args.notifications_command == "list":
            _show(client.notifications(order_id=args.order_id, state=args.state, limit=args.limit,
                                       cursor=args.cursor), args.output)
        elif args.notifications_command == "show":
            _show(client.notification(args.notify_id), args.output)
        else:
            _show({"notify_id": args.notify_id, "state": client.replay_notification(args.notify_id)}, args.output)
    elif args.command == "get":
        _show(client.get_recharge(args.order_id), args.output)
    elif args.command == "find":
        _show(client.find_recharge(args.channel_order_id), args.output)
    elif args.command == "products":
        _out(client.products(args.account, args.account_type))
    return EXIT["ok"]


if __name__ == "__main__":
    sys.exit(main())
