"""Settlement notices from the payment providers (their asynchronous refund callbacks).

Providers are not channels: they do not sign as channels do (so these routes live outside /v1), but with
their own key, which the refunds service holds and verifies. The gateway carries the notice byte for byte and
tells the provider whether it was taken (2xx) so that it stops retrying; a notice that does not verify is 401
and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request

from gateway.errors import ApiError
from gateway.responses import FastJSON
from gateway.routes.recharges import _ERRORS, openapi_body
from gateway.schemas import RefundNoticeIn
from gateway.upstream import Upstream, call
from topup.refunds.v1 import refunds_pb2

router = APIRouter(tags=["payment providers"])
Provider = Literal["alipay", "wechat", "unionpay", "jd", "taobao", "unicom_pay"]
MAX_NOTICE_BYTES = 16_384


@router.post("/providers/v1/{provider}/refund-notices", responses=_ERRORS, openapi_extra=openapi_body(RefundNoticeIn),
             summary="A payment provider's refund settlement notice")
async def refund_notice(
    provider: Provider, request: Request,
    x_provider_signature: Annotated[str | None, Header(
        description="base64(HMAC-SHA256(the provider's notify key, the body as sent))")] = None,
) -> FastJSON:
    body = await request.body()
    if len(body) > MAX_NOTICE_BYTES:
        raise ApiError("PAYLOAD_TOO_LARGE")
    if not x_provider_signature:
        raise ApiError("NOTICE_SIGNATURE_INVALID", "X-Provider-Signature is missing")
    upstream: Upstream = request.app.state.upstream
    answer = await call(upstream.refunds.NotifyRefund(
        refunds_pb2.NotifyRefundRequest(provider=provider, body=body, signature=x_provider_signature),
        timeout=request.app.state.settings.desk_timeout_seconds))
    return FastJSON({"result": "success", "outcome": answer.outcome})
