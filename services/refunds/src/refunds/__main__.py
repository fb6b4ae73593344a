"""python -m refunds [serve|migrate]"""

from refunds.settings import RefundsSettings
from topup_platform.cli import service_cli


def _main() -> None:
    from refunds.main import main

    service_cli(RefundsSettings, "refunds", main)


if __name__ == "__main__":
    _main()
