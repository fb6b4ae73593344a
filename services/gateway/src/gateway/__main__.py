"""python -m gateway [serve|migrate]   |   python -m gateway token --sub <staff> --role <role> [--role ...]"""

import argparse
import sys

from gateway.admin_auth import Role, issue_token
from gateway.app import create_app
from gateway.middleware import TrustBoundary
from gateway.settings import GatewaySettings
from topup_platform.cli import http_app_cli


def token(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway token", description="Issue a staff bearer token")
    parser.add_argument("--sub", required=True, help="who the token is for (lower-case ASCII, e.g. alice)")
    parser.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    parser.add_argument("--ttl", type=int, default=None, help="seconds (default: GATEWAY_ADMIN_TOKEN_TTL_SECONDS)")
    args = parser.parse_args(argv)
    try:
        issued = issue_token(GatewaySettings(), args.sub, [Role(r) for r in args.role], args.ttl)
    except ValueError as err:
        parser.error(str(err))
    sys.stdout.write(issued + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["token"]:
        token(sys.argv[2:])
    else:
        http_app_cli(GatewaySettings, "gateway", lambda s: TrustBoundary(create_app(s)), host=lambda s: s.host,
                     port=lambda s: s.port)
