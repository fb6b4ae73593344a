"""`topup`: try the gateway from a terminal without writing HMAC by hand.

    topup recharge 18612345678 CREDIT_50 --wait      # signed POST /v1/recharges, then poll to a final status
    topup get <order_id>
    topup find <channel_order_id>
    topup products 18612345678
    topup curl POST /v1/recharges '{"...": "..."}'   # print a ready-to-run signed curl command

Settings come from the environment: TOPUP_URL (http://127.0.0.1:8080), TOPUP_CHANNEL_ID (demo),
TOPUP_CHANNEL_SECRET (demo-secret), or TOPUP_CHANNEL_PRIVATE_KEY_FILE (sign SHA256withRSA with this PEM key).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import uuid
from typing import Any

from topup_client.client import ApiError, TopupClient
from topup_client.signing import load_private_key, signed_headers

FINAL = {"SUCCEEDED", "FAILED", "REFUNDED", "REJECTED", "UNDER_REVIEW"}


def _out(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="topup", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("TOPUP_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--channel", default=os.environ.get("TOPUP_CHANNEL_ID", "demo"))
    parser.add_argument("--secret", default=os.environ.get("TOPUP_CHANNEL_SECRET", "demo-secret"))
    parser.add_argument("--private-key-file", default=os.environ.get("TOPUP_CHANNEL_PRIVATE_KEY_FILE"),
                        help="sign SHA256withRSA with this PEM private key instead of the HMAC secret")
    sub = parser.add_subparsers(dest="command", required=True)

    r = sub.add_parser("recharge", help="create a recharge order")
    r.add_argument("account")
    r.add_argument("sku")
    r.add_argument("--paid-fen", type=int, help="what the subscriber paid (default: the quoted price)")
    r.add_argument("--method", default="alipay")
    r.add_argument("--channel-order-id", default=None)
    r.add_argument("--account-type", default="mobile", choices=["mobile", "broadband"])
    r.add_argument("--notify-url", default=None)
    r.add_argument("--wait", action="store_true", help="poll until the order reaches a final status")

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

    args = parser.parse_args(argv)
    private_key = None
    if args.private_key_file:
        with open(args.private_key_file, "rb") as pem:
            private_key = load_private_key(pem.read())
    if args.command == "curl":
        body = args.body.encode()
        headers = signed_headers(args.channel, args.secret, args.method, args.path, body, private_key=private_key)
        parts = ["curl", "-sS", "-X", args.method.upper(), args.url.rstrip("/") + args.path]
        for k, v in {**headers, "Content-Type": "application/json"}.items():
            parts += ["-H", f"{k}: {v}"]
        if body:
            parts += ["--data-raw", args.body]
        sys.stdout.write(" ".join(shlex.quote(x) for x in parts) + "\n")
        return 0

    with TopupClient(args.url, args.channel, None if private_key else args.secret, private_key=private_key) as client:
        try:
            if args.command == "recharge":
                paid = args.paid_fen
                if paid is None:
                    offer = client.products(args.account, args.account_type)
                    prices = {p["sku"]: p["price_fen"] for p in offer["products"]}
                    if args.sku not in prices:
                        sys.stderr.write(f"{args.sku} is not offered to {args.account}\n")
                        return 2
                    paid = prices[args.sku]
                order = client.create_recharge(
                    channel_order_id=args.channel_order_id or f"cli-{uuid.uuid4().hex[:16]}",
                    account_type=args.account_type, account_id=args.account, sku=args.sku,
                    payment_method=args.method, transaction_id=f"PAY{uuid.uuid4().hex[:20]}", paid_fen=paid,
                    notify_url=args.notify_url,
                )
                _out(order)
                while args.wait and order["status"] not in FINAL:
                    time.sleep(0.5)
                    order = client.get_recharge(order["order_id"])
                if args.wait:
                    _out(client.get_recharge(order["order_id"]))
            elif args.command == "get":
                _out(client.get_recharge(args.order_id))
            elif args.command == "find":
                _out(client.find_recharge(args.channel_order_id))
            elif args.command == "products":
                _out(client.products(args.account, args.account_type))
        except ApiError as err:
            _out(err.body or {"code": err.code, "message": err.message})
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
