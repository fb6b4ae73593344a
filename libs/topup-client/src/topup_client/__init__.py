"""Client SDK for channels of the Unicom top-up gateway.

    from topup_client import TopupClient
    with TopupClient("https://topup.example", "demo", "demo-secret") as client:
        order = client.create_recharge(channel_order_id="A1", account_id="18612345678", sku="CREDIT_50",
                                       payment_method="alipay", transaction_id="2026112422001", paid_fen=5000)
"""

from topup_client.client import ApiError, AsyncTopupClient, TopupClient, is_settled
from topup_client.signing import (
    CallbackVerificationError,
    sign,
    sign_rsa,
    string_to_sign,
    verify,
    verify_callback,
    verify_rsa,
)

__all__ = ["ApiError", "AsyncTopupClient", "CallbackVerificationError", "TopupClient", "is_settled", "sign",
           "sign_rsa", "string_to_sign", "verify", "verify_callback", "verify_rsa"]
