"""python -m risk [serve|migrate]"""

from risk.settings import RiskSettings
from topup_platform.cli import service_cli


def _main() -> None:
    from risk.main import main

    service_cli(RiskSettings, "risk", main)


if __name__ == "__main__":
    _main()
