"""python -m orders [serve|migrate]"""

from orders.settings import OrdersSettings
from topup_platform.cli import service_cli


def _main() -> None:
    from orders.main import main

    service_cli(OrdersSettings, "orders", main)


if __name__ == "__main__":
    _main()
