"""python -m billing_adapter [serve|migrate]
python -m billing_adapter reconcile --from ISO --to ISO [--repair] [--json FILE] [--csv FILE]"""

import argparse
import sys
from datetime import datetime
from pathlib import Path

import orjson
import uvloop

from topup_platform.cli import service_cli


def reconcile(argv: list[str]) -> int:
    """Run one reconciliation now (staff's CLI); its repairs are published by the running adapter."""
    from billing_adapter.boss_client import BossClient
    from billing_adapter.reconcile import Reconciler
    from billing_adapter.settings import BillingSettings
    from topup.orders.v1 import orders_pb2_grpc
    from topup_platform.db import pool_from_settings
    from topup_platform.grpc_client import channel
    from topup_platform.logging import configure_logging
    from topup_platform.outbox import Outbox

    parser = argparse.ArgumentParser(prog="python -m billing_adapter reconcile", description=Reconciler.__doc__)
    parser.add_argument("--from", dest="start", required=True, type=datetime.fromisoformat)
    parser.add_argument("--to", dest="end", required=True, type=datetime.fromisoformat)
    parser.add_argument("--repair", action="store_true", help="settle what is safe (BOSS credited the whole order)")
    parser.add_argument("--json", type=Path, help="write the report as JSON here ('-' for standard output)")
    parser.add_argument("--csv", type=Path, help="write the differences as CSV here")
    parser.add_argument("--by", default="cli", help="who runs it (recorded with the run)")
    args = parser.parse_args(argv)
    if args.start.tzinfo is None or args.end.tzinfo is None or args.start >= args.end:
        parser.error("--from and --to need a time zone (e.g. 2026-11-24T00:00:00+08:00), and --from < --to")
    settings = BillingSettings()
    configure_logging(settings.service_name, level=settings.log_level, json=settings.json_logs)

    async def go() -> int:
        pool = await pool_from_settings(settings)
        boss = BossClient(settings.boss_url, 60)
        orders_channel = channel(settings.orders_target, settings)
        try:
            report = await Reconciler(pool, Outbox(settings.service_name), boss,
                                      orders_pb2_grpc.OrdersServiceStub(orders_channel),
                                      peer_timeout=settings.peer_timeout_seconds).run(
                args.start, args.end, repair=args.repair, actor=args.by)
        finally:
            await boss.close()
            await orders_channel.close()
            await pool.close()
        document = orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2)
        if args.json and str(args.json) == "-":
            sys.stdout.write(document.decode() + "\n")
        elif args.json:
            args.json.write_bytes(document)
        if args.csv:
            args.csv.write_text(report.as_csv())
        return 1 if any(d.action == "needs_review" for d in report.differences) else 0

    return uvloop.run(go())


def _main() -> None:
    if sys.argv[1:2] == ["reconcile"]:
        sys.exit(reconcile(sys.argv[2:]))
    from billing_adapter.main import main
    from billing_adapter.settings import BillingSettings

    service_cli(BillingSettings, "billing_adapter", main)


if __name__ == "__main__":
    _main()
