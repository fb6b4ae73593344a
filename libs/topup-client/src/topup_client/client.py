"""Sync and async clients. Each attempt is signed afresh (new timestamp and nonce); a retry of a create
sends the same body with the same channel_order_id, so the gateway answers it with the same order."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
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

from topup_client.models import (
    Balance,
    Notification,
    NotificationsPage,
    Offer,
    Order,
    OrdersPage,
    Statement,
    is_settled,
)
from topup_client.signing import RSAPrivateKey, load_private_key, signed_headers

Query = dict[str, str] | dict[str, str | list[str]] | None
__all__ = ["ApiError", "AsyncTopupClient", "TopupClient", "is_settled"]

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

    def _request(self, method: str, path: str, query: Query, body: Any,
                 headers: dict[str, str] | None) -> httpx.Request:
        path_with_query = path + ("?" + urlencode(query, doseq=True) if query else "")
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
            return response.text if payload is None and response.content else payload
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


def _query(**items: str | int | bool | Sequence[str] | None) -> dict[str, str | list[str]] | None:
    """Query parameters, leaving out those not given (booleans as true/false, lists repeated)."""
    out: dict[str, str | list[str]] = {}
    for key, value in items.items():
        if value is None or value == [] or value == ():
            continue
        name = {"from_": "from", "status": "status"}.get(key, key)
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, str | int):
            out[name] = str(value)
        else:
            out[name] = [str(v) for v in value]
    return out or None


def _time(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _day(value: date | str) -> str:
    return value.isoformat() if isinstance(value, date) else value


class TopupClient(_Base):
    """The channel API, synchronously. Each method returns a typed model (topup_client.models); `request()` is
    the raw call (JSON in, JSON out) for anything else."""

    def __init__(self, base_url: str, channel_id: str, secret: str | None = None, *, retries: int = 3,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None,
                 private_key: RSAPrivateKey | str | bytes | None = None) -> None:
        super().__init__(base_url, channel_id, secret, retries=retries, private_key=private_key)
        self.http = httpx.Client(timeout=timeout, transport=transport)

    def __enter__(self) -> TopupClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, *, query: Query = None, body: Any = None,
                headers: dict[str, str] | None = None) -> Any:
        """One signed call (retried as the class says); the answer's JSON, or its text when it is not JSON."""
        for attempt in Retrying(**self._policy()):
            with attempt:
                return self._result(self.http.send(self._request(method, path, query, body, headers)))
        raise AssertionError("unreachable")

    # --- recharges and redemptions -------------------------------------------------------------------

    def create_recharge(self, **fields: Any) -> Order:
        """POST /v1/recharges (see `recharge_body` for the fields); a retry answers the same order."""
        return Order.model_validate(self.request("POST", "/v1/recharges", body=recharge_body(**fields)))

    def redeem_voucher(self, **fields: Any) -> Order:
        """POST /v1/voucher-redemptions (see `redemption_body`)."""
        return Order.model_validate(self.request("POST", "/v1/voucher-redemptions", body=redemption_body(**fields)))

    def get_recharge(self, order_id: str, *, include_history: bool = False) -> Order:
        return Order.model_validate(self.request("GET", f"/v1/recharges/{order_id}",
                                                 query=_query(include_history=include_history or None)))

    def find_recharge(self, channel_order_id: str, *, include_history: bool = False) -> Order:
        return Order.model_validate(self.request("GET", "/v1/recharges", query=_query(
            channel_order_id=channel_order_id, include_history=include_history or None)))

    def wait(self, order_id: str, *, timeout: float = 120.0, interval: float = 0.5,
             on_status: Callable[[Order], None] | None = None) -> Order:
        """Poll until the order rests (`Order.settled`) or `timeout` passes; the order as last read.
        `on_status` is called with each new status as it is seen (a progress display)."""
        started, shown = time.monotonic(), None
        while True:
            order = self.get_recharge(order_id)
            if order.status != shown and on_status is not None:
                on_status(order)
            shown = order.status
            if order.settled or time.monotonic() - started >= timeout:
                return order
            time.sleep(interval)

    # --- products, history, statements --------------------------------------------------------------

    def products(self, account_id: str, account_type: str | None = None) -> Offer:
        return Offer.model_validate(self.request("GET", "/v1/products", query=_products_query(account_id,
                                                                                              account_type)))

    def balance(self, account_id: str, account_type: str = "mobile") -> Balance:
        """The subscriber's balance at BOSS (channels with the `balance` permission)."""
        return Balance.model_validate(self.request("GET", f"/v1/accounts/{account_type}/{account_id}/balance"))

    def account_orders(self, account_id: str, account_type: str = "mobile", *, status: Sequence[str] | str = (),
                       limit: int | None = None, cursor: str | None = None,
                       include_history: bool | None = None) -> OrdersPage:
        """One page of this channel's orders to an account, newest first."""
        return OrdersPage.model_validate(self.request(
            "GET", f"/v1/accounts/{account_type}/{account_id}/recharges",
            query=_query(status=[status] if isinstance(status, str) else status, limit=limit, cursor=cursor,
                         include_history=include_history)))

    def history(self, *, from_: datetime | str | None = None, to: datetime | str | None = None,
                status: Sequence[str] | str = (), limit: int | None = None, cursor: str | None = None,
                include_history: bool | None = None) -> OrdersPage:
        """One page of all this channel's orders created in [from_, to), newest first (GET /v1/history)."""
        return OrdersPage.model_validate(self.request("GET", "/v1/history", query=_query(
            from_=_time(from_), to=_time(to), status=[status] if isinstance(status, str) else status, limit=limit,
            cursor=cursor, include_history=include_history)))

    def statement(self, day: date | str) -> Statement:
        """The statement (对账单) of one Beijing day: its lines and its totals, parsed from the CSV."""
        return Statement.from_csv(self.request("GET", "/v1/statements", query={"date": _day(day)}))

    # --- notifications (our callbacks to you) --------------------------------------------------------

    def notifications(self, *, order_id: str | None = None, state: Sequence[str] | str = (),
                      limit: int | None = None, cursor: str | None = None) -> NotificationsPage:
        return NotificationsPage.model_validate(self.request("GET", "/v1/notifications", query=_query(
            order_id=order_id, state=[state] if isinstance(state, str) else state, limit=limit, cursor=cursor)))

    def notification(self, notify_id: str) -> Notification:
        """One notification with every attempt and what your endpoint answered."""
        return Notification.model_validate(self.request("GET", f"/v1/notifications/{notify_id}"))

    def replay_notification(self, notify_id: str) -> str:
        """Have a notification sent again now (same notify_id and body); its state (pending)."""
        return str(self.request("POST", f"/v1/notifications/{notify_id}/replay")["state"])


class AsyncTopupClient(_Base):
    """The channel API with asyncio: the same methods as TopupClient, awaited."""

    def __init__(self, base_url: str, channel_id: str, secret: str | None = None, *, retries: int = 3,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
                 private_key: RSAPrivateKey | str | bytes | None = None) -> None:
        super().__init__(base_url, channel_id, secret, retries=retries, private_key=private_key)
        self.http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncTopupClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def close(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, *, query: Query = None, body: Any = None,
                      headers: dict[str, str] | None = None) -> Any:
        async for attempt in AsyncRetrying(**self._policy()):
            with attempt:
                return self._result(await self.http.send(self._request(method, path, query, body, headers)))
        raise AssertionError("unreachable")

    async def create_recharge(self, **fields: Any) -> Order:
        return Order.model_validate(await self.request("POST", "/v1/recharges", body=recharge_body(**fields)))

    async def redeem_voucher(self, **fields: Any) -> Order:
        return Order.model_validate(await self.request("POST", "/v1/voucher-redemptions",
                                                       body=redemption_body(**fields)))

    async def get_recharge(self, order_id: str, *, include_history: bool = False) -> Order:
        return Order.model_validate(await self.request("GET", f"/v1/recharges/{order_id}",
                                                       query=_query(include_history=include_history or None)))

    async def find_recharge(self, channel_order_id: str, *, include_history: bool = False) -> Order:
        return Order.model_validate(await self.request("GET", "/v1/recharges", query=_query(
            channel_order_id=channel_order_id, include_history=include_history or None)))

    async def wait(self, order_id: str, *, timeout: float = 120.0, interval: float = 0.5,  # noqa: ASYNC109 (as the sync twin)
                   on_status: Callable[[Order], None] | None = None) -> Order:
        started, shown = time.monotonic(), None
        while True:
            order = await self.get_recharge(order_id)
            if order.status != shown and on_status is not None:
                on_status(order)
            shown = order.status
            if order.settled or time.monotonic() - started >= timeout:
                return order
            await asyncio.sleep(interval)

    async def products(self, account_id: str, account_type: str | None = None) -> Offer:
        return Offer.model_validate(await self.request("GET", "/v1/products",
                                                       query=_products_query(account_id, account_type)))

    async def balance(self, account_id: str, account_type: str = "mobile") -> Balance:
        return Balance.model_validate(await self.request("GET",
                                                         f"/v1/accounts/{account_type}/{account_id}/balance"))

    async def account_orders(self, account_id: str, account_type: str = "mobile", *,
                             status: Sequence[str] | str = (), limit: int | None = None, cursor: str | None = None,
                             include_history: bool | None = None) -> OrdersPage:
        return OrdersPage.model_validate(await self.request(
            "GET", f"/v1/accounts/{account_type}/{account_id}/recharges",
            query=_query(status=[status] if isinstance(status, str) else status, limit=limit, cursor=cursor,
                         include_history=include_history)))

    async def history(self, *, from_: datetime | str | None = None, to: datetime | str | None = None,
                      status: Sequence[str] | str = (), limit: int | None = None, cursor: str | None = None,
                      include_history: bool | None = None) -> OrdersPage:
        return OrdersPage.model_validate(await self.request("GET", "/v1/history", query=_query(
            from_=_time(from_), to=_time(to), status=[status] if isinstance(status, str) else status, limit=limit,
            cursor=cursor, include_history=include_history)))

    async def statement(self, day: date | str) -> Statement:
        return Statement.from_csv(await self.request("GET", "/v1/statements", query={"date": _day(day)}))

    async def notifications(self, *, order_id: str | None = None, state: Sequence[str] | str = (),
                            limit: int | None = None, cursor: str | None = None) -> NotificationsPage:
        return NotificationsPage.model_validate(await self.request("GET", "/v1/notifications", query=_query(
            order_id=order_id, state=[state] if isinstance(state, str) else state, limit=limit, cursor=cursor)))

    async def notification(self, notify_id: str) -> Notification:
        return Notification.model_validate(await self.request("GET", f"/v1/notifications/{notify_id}"))

    async def replay_notification(self, notify_id: str) -> str:
        return str((await self.request("POST", f"/v1/notifications/{notify_id}/replay"))["state"])
