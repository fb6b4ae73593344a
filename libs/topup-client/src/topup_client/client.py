"""Sync and async clients. Each attempt is signed afresh (new timestamp and nonce); a retry of a create
sends the same body with the same channel_order_id, so the gateway answers it with the same order."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from topup_client.signing import RSAPrivateKey, load_private_key, signed_headers

RETRYABLE_STATUS = {429, 502, 503, 504}


class ApiError(Exception):
    """The gateway answered with an error: `code` is from its documented catalogue."""

    def __init__(self, status: int, code: str, message: str, request_id: str, body: Any = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body
        #: seconds the gateway asked us to wait (429 RATE_LIMITED, 503 OVERLOADED)
        self.retry_after = retry_after


def _retryable(error: BaseException) -> bool:
    if isinstance(error, ApiError):
        return error.status in RETRYABLE_STATUS
    return isinstance(error, httpx.TransportError)


def recharge_body(*, channel_order_id: str, account_id: str, sku: str, payment_method: str, transaction_id: str,
                  paid_fen: int, account_type: str = "mobile", notify_url: str | None = None,
                  payer_account: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel_order_id": channel_order_id,
        "account": {"type": account_type, "id": account_id},
        "sku": sku,
        "payment": {"method": payment_method, "transaction_id": transaction_id, "paid_fen": paid_fen},
    }
    if payer_account:
        body["payment"]["payer_account"] = payer_account
    if notify_url:
        body["notify_url"] = notify_url
    return body


def redemption_body(*, channel_order_id: str, account_id: str, pin: str, account_type: str = "mobile",
                    notify_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"channel_order_id": channel_order_id, "account": {"type": account_type, "id": account_id},
                            "pin": pin}
    if notify_url:
        body["notify_url"] = notify_url
    return body


#: statuses an order rests in; FAILED and REJECTED rest only when there is nothing to refund
SETTLED = frozenset({"SUCCEEDED", "REFUNDED", "UNDER_REVIEW"})


def is_settled(order: dict[str, Any]) -> bool:
    """Whether an order (as the gateway renders it) has reached the status it rests in: `SUCCEEDED`, `REFUNDED`,
    `UNDER_REVIEW` (a person decides), or `FAILED` / `REJECTED` when nothing was paid (a voucher, a free order).
    A paid order that failed is not done yet: its refund is under way, and it ends `REFUNDED`."""
    if order["status"] in SETTLED:
        return True
    unpaid = order["payment"]["method"] == "voucher" or order["payment"]["paid_fen"] == 0
    return order["status"] in ("FAILED", "REJECTED") and unpaid


def _products_query(account_id: str, account_type: str | None) -> dict[str, str]:
    """Without a type, the gateway tells it from the id (mobile numbers start with 1, broadband ids with 0)."""
    return {"account": account_id, **({"account_type": account_type} if account_type else {})}


class _Base:
    def __init__(self, base_url: str, channel_id: str, secret: str | None = None, *, retries: int = 3,
                 private_key: RSAPrivateKey | str | bytes | None = None) -> None:
        """Sign with the channel's HMAC `secret`, or SHA256withRSA with its `private_key` (PEM or key object)
        once the gateway holds the public key."""
        self.base_url = base_url.rstrip("/")
        self.channel_id = channel_id
        self.secret = secret
        self.private_key = (private_key if private_key is None or isinstance(private_key, RSAPrivateKey)
                            else load_private_key(private_key))
        if secret is None and self.private_key is None:
            raise ValueError("a secret or a private key is needed")
        self.retries = retries
        self.last_response: httpx.Response | None = None

    def _request(self, method: str, path: str, query: dict[str, str] | None, body: Any,
                 headers: dict[str, str] | None) -> httpx.Request:
        path_with_query = path + ("?" + urlencode(query) if query else "")
        content = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        h = {"Content-Type": "application/json", **(headers or {}),
             **signed_headers(self.channel_id, self.secret, method, path_with_query, content,
                             private_key=self.private_key)}
        return httpx.Request(method, self.base_url + path_with_query, content=content, headers=h)

    def _result(self, response: httpx.Response) -> Any:
        self.last_response = response
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success:
            return payload
        p = payload if isinstance(payload, dict) else {}
        retry_after = response.headers.get("Retry-After", "")
        raise ApiError(response.status_code, p.get("code", "HTTP_ERROR"), p.get("message", response.text[:200]),
                       p.get("request_id", ""), payload,
                       float(retry_after) if re.fullmatch(r"[0-9]{1,6}", retry_after, re.ASCII) else None)

    def _policy(self) -> dict[str, Any]:
        backoff = wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, ApiError) and error.retry_after is not None:
                return min(error.retry_after, 30.0)  # what the gateway asked for
            return float(backoff(state))

        return {
            "stop": stop_after_attempt(self.retries + 1),
            "wait": wait,
            "retry": retry_if_exception(_retryable),
            "reraise": True,
        }


class TopupClient(_Base):
    def __init__(self, base_url: str, channel_id: str, secret: str | None = None, *, retries: int = 3,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None,
                 private_key: RSAPrivateKey | str | bytes | None = None) -> None:
        super().__init__(base_url, channel_id, secret, retries=retries, private_key=private_key)
        self.http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> TopupClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None,
                headers: dict[str, str] | None = None) -> Any:
        for attempt in Retrying(**self._policy()):
            with attempt:
                return self._result(self.http.send(self._request(method, path, query, body, headers)))
        raise AssertionError("unreachable")

    def create_recharge(self, **fields: Any) -> Any:
        return self.request("POST", "/v1/recharges", body=recharge_body(**fields))

    def get_recharge(self, order_id: str, *, include_history: bool = False) -> Any:
        return self.request("GET", f"/v1/recharges/{order_id}",
                            query={"include_history": "true"} if include_history else None)

    def redeem_voucher(self, **fields: Any) -> Any:
        return self.request("POST", "/v1/voucher-redemptions", body=redemption_body(**fields))

    def account_orders(self, account_id: str, account_type: str = "mobile", **query: str) -> Any:
        """One page of this channel's orders to an account, newest first (`status`, `limit`, `cursor`, ...)."""
        return self.request("GET", f"/v1/accounts/{account_type}/{account_id}/recharges", query=query or None)

    def find_recharge(self, channel_order_id: str) -> Any:
        return self.request("GET", "/v1/recharges", query={"channel_order_id": channel_order_id})

    def products(self, account_id: str, account_type: str | None = None) -> Any:
        return self.request("GET", "/v1/products", query=_products_query(account_id, account_type))


class AsyncTopupClient(_Base):
    def __init__(self, base_url: str, channel_id: str, secret: str | None = None, *, retries: int = 3,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
                 private_key: RSAPrivateKey | str | bytes | None = None) -> None:
        super().__init__(base_url, channel_id, secret, retries=retries, private_key=private_key)
        self.http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncTopupClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None,
                      headers: dict[str, str] | None = None) -> Any:
        async for attempt in AsyncRetrying(**self._policy()):
            with attempt:
                return self._result(await self.http.send(self._request(method, path, query, body, headers)))
        raise AssertionError("unreachable")

    async def create_recharge(self, **fields: Any) -> Any:
        return await self.request("POST", "/v1/recharges", body=recharge_body(**fields))

    async def get_recharge(self, order_id: str) -> Any:
        return await self.request("GET", f"/v1/recharges/{order_id}")

    async def find_recharge(self, channel_order_id: str) -> Any:
        return await self.request("GET", "/v1/recharges", query={"channel_order_id": channel_order_id})

    async def products(self, account_id: str, account_type: str | None = None) -> Any:
        return await self.request("GET", "/v1/products", query=_products_query(account_id, account_type))
