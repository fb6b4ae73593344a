"""Client SDK for channels of the Unicom top-up gateway.

    from topup_client import TopupClient
    with TopupClient("https://topup.example", "demo", "demo-secret") as client:
        order = client.create_recharge(channel_order_id="A1", account_id="18612345678", sku="CREDIT_50",
                                       payment_method="alipay", transaction_id="2026112422001", paid_fen=5000)
        client.wait(order.order_id).status        # typed answers (topup_client.models)
"""

from topup_client.client import ApiError, AsyncTopupClient, TopupClient
from topup_client.models import (
    Account,
    Balance,
    Notification,
    NotificationAttempt,
    NotificationsPage,
    Offer,
    Order,
    OrdersPage,
    Payment,
    Product,
    Statement,
    StatementLine,
    StatementTotal,
    StatusChange,
    is_settled,
)
from topup_client.signing import (
    CallbackVerificationError,
    sign,
    sign_rsa,
    string_to_sign,
    verify,
    verify_callback,
    verify_rsa,
)

__all__ = ["Account", "ApiError", "AsyncTopupClient", "Balance", "CallbackVerificationError", "Notification",
           "NotificationAttempt", "NotificationsPage", "Offer", "Order", "OrdersPage", "Payment", "Product",
           "Statement", "StatementLine", "StatementTotal", "StatusChange", "TopupClient", "is_settled", "sign",
           "sign_rsa", "string_to_sign", "verify", "verify_callback", "verify_rsa"]
