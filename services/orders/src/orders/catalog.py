"""The catalog in memory: products, channel prices and number segments, reloaded every few seconds so a
price change reaches every replica without a restart and no order pays a database round trip for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from orders import repository
from orders.domain.accounts import Account
from orders.domain.catalog import PricedProduct, Product
from orders.domain.errors import PriceMismatch, SkuNotAvailable, SkuUnknown
from topup_platform.logging import get_logger

log = get_logger(__name__)


@dataclass
class CatalogSnapshot:
    products: dict[str, tuple[Product, int]] = field(default_factory=dict)
    prices: dict[tuple[str, str], int] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)

    def price_for(self, channel_id: str, account: Account, sku: str) -> tuple[Product, int]:
        entry = self.products.get(sku)
        if entry is None:
            raise SkuUnknown(f"no product has the SKU {sku!r}", sku=sku)
        product, _ = entry
        price = self.prices.get((channel_id, sku))
        if not product.active or price is None:
            raise SkuNotAvailable(f"this channel does not sell {sku}", sku=sku)
        if product.account_type is not account.type:
            raise SkuNotAvailable(f"{sku} is not for {account.type.value} accounts", sku=sku)
        return product, price

    def check_price(self, channel_id: str, account: Account, sku: str, paid_fen: int) -> tuple[Product, int]:
        product, price = self.price_for(channel_id, account, sku)
        if paid_fen != price:
            raise PriceMismatch(f"paid_fen {paid_fen} is not this channel's price {price} for {sku}",
                                expected_fen=str(price), paid_fen=str(paid_fen))
        return product, price

    def offer(self, channel_id: str, account: Account) -> list[PricedProduct]:
        out = []
        for sku, (product, _) in sorted(self.products.items(), key=lambda kv: (kv[1][0].kind, kv[1][0].face_value_fen,
                                                                               kv[1][0].data_mb)):
            price = self.prices.get((channel_id, sku))
            if product.active and price is not None and product.account_type is account.type:
                out.append(PricedProduct(product, price))
        return out


class Catalog:
    """The catalog in memory; `reload` (run periodically by the service) swaps in a fresh snapshot."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.snapshot = CatalogSnapshot()

    async def reload(self) -> None:
        async with self.pool.acquire() as conn:
            self.snapshot = CatalogSnapshot(
                await repository.load_products(conn),
                await repository.load_channel_prices(conn),
                await repository.load_segments(conn),
            )
