"""python -m gateway [serve|migrate]"""

from gateway.app import create_app
from gateway.settings import GatewaySettings
from topup_platform.cli import http_app_cli

if __name__ == "__main__":
    http_app_cli(GatewaySettings, "gateway", create_app, host=lambda s: s.host, port=lambda s: s.port)
