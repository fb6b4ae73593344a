"""python -m billing_adapter [serve|migrate]"""

from billing_adapter.settings import BillingSettings
from topup_platform.cli import service_cli


def _main() -> None:
    from billing_adapter.main import main

    service_cli(BillingSettings, "billing_adapter", main)


if __name__ == "__main__":
    _main()
