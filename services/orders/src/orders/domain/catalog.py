"""Products (SKUs) and channel prices. Prices are integer fen; a channel may sell below face value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orders.domain.accounts import AccountType


class ProductKind(StrEnum):
    CALL_CREDIT = "call_credit"
    DATA_PACK = "data_pack"
    COMBO = "combo"
    BROADBAND_CREDIT = "broadband_credit"


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    kind: ProductKind
    name: str
    #: call credit delivered, in fen (0 for a pure data pack)
    face_value_fen: int
    #: data delivered, in MB (0 for pure credit)
    data_mb: int
    validity_days: int
    #: the data-pack code BOSS provisions (data packs and combos)
    pack_code: str | None
    #: the account type this product is for
    account_type: AccountType
    active: bool = True

    @property
    def delivers_credit(self) -> bool:
        return self.face_value_fen > 0

    @property
    def delivers_data(self) -> bool:
        return self.pack_code is not None


@dataclass(frozen=True, slots=True)
class PricedProduct:
    product: Product
    price_fen: int
