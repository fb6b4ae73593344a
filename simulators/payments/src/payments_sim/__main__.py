"""python -m payments_sim [serve|migrate]"""

from payments_sim.app import create_app
from payments_sim.settings import PaymentsSimSettings
from topup_platform.cli import http_app_cli

if __name__ == "__main__":
    http_app_cli(PaymentsSimSettings, "payments_sim", create_app, host=lambda s: s.host, port=lambda s: s.port,
                 platform_tables=False)
