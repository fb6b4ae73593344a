"""python -m boss_sim [serve|migrate]"""

from boss_sim.app import create_app
from boss_sim.settings import BossSimSettings
from topup_platform.cli import http_app_cli

if __name__ == "__main__":
    http_app_cli(BossSimSettings, "boss_sim", create_app, host=lambda s: s.host, port=lambda s: s.port,
                 platform_tables=False)
