"""The error catalogue: every code a channel can see, its HTTP status and its meaning, in Chinese (the
default) and English (`Accept-Language: en`). The README's table and the OpenAPI document are generated
from this one list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    http_status: int
    zh: str
    en: str


_SPECS = [
    # --- authentication (the signature scheme of DESIGN.md section 5)
    ErrorSpec("AUTH_HEADERS_MISSING", 401, "缺少或格式错误的签名请求头(X-Channel-Id、X-Timestamp、X-Nonce、X-Signature)",
              "A signature header (X-Channel-Id, X-Timestamp, X-Nonce, X-Signature) is missing or malformed"),
    ErrorSpec("AUTH_CHANNEL_UNKNOWN", 401, "渠道不存在", "Unknown channel"),
    ErrorSpec("AUTH_TIMESTAMP_EXPIRED", 401, "请求时间戳与服务器时间相差超过 300 秒",
              "X-Timestamp is more than 300 seconds away from the server's clock"),
    ErrorSpec("AUTH_NONCE_INVALID", 401, "X-Nonce 须为 16 至 64 个可见字符", "X-Nonce must be 16 to 64 visible characters"),
    ErrorSpec("AUTH_NONCE_REPLAYED", 401, "该 X-Nonce 已被使用", "This X-Nonce was already used"),
    ErrorSpec("AUTH_SIGNATURE_INVALID", 401, "签名校验失败", "The signature does not verify"),
    ErrorSpec("CHANNEL_DISABLED", 403, "渠道已停用", "This channel is disabled"),
    ErrorSpec("CHANNEL_NOT_PERMITTED", 403, "该渠道无权使用此接口", "This channel may not use this endpoint"),
    ErrorSpec("NOTIFY_URL_NOT_ALLOWED", 422, "notify_url 不在该渠道登记的回调地址范围内",
              "notify_url is not under one of this channel's registered callback URL prefixes"),
    ErrorSpec("NOTIFY_URL_NO_PREFIXES", 422, "该渠道未登记回调地址前缀,不能使用 notify_url",
              "This channel has no registered callback URL prefixes, so it cannot use notify_url"),
    ErrorSpec("NOTIFY_URL_INVALID", 422,
              "notify_url 不合规:须为 https(开发环境可用 http)、不含用户信息和片段、主机为域名或规范写法的 IP 地址",
              "notify_url is not acceptable: https (http in development only), no user@ or #fragment, "
              "a DNS name or an IP address in its usual spelling as host"),
    ErrorSpec("NOTIFY_URL_FORBIDDEN_ADDRESS", 422, "notify_url 的主机是或解析为内部地址(回环、内网、链路本地、元数据等),不予回调",
              "notify_url's host is or resolves to an address we never call (loopback, private, link-local, "
              "metadata, reserved)"),
    # --- the channel registry (admin API)
    ErrorSpec("CHANNEL_NOT_FOUND", 404, "渠道不存在", "No such channel"),
    ErrorSpec("CHANNEL_EXISTS", 409, "该渠道编号已存在", "A channel with this id exists already"),
    ErrorSpec("KEY_NOT_FOUND", 404, "该渠道没有此密钥", "This channel has no such key"),
    ErrorSpec("KEY_INVALID", 400, "公钥无效:须为 PEM 格式、至少 2048 位的 RSA 公钥",
              "The public key must be a PEM RSA public key of at least 2048 bits"),
    ErrorSpec("KEY_EXISTS", 409, "该渠道已有此密钥编号", "This channel has a key with this id already"),
    ErrorSpec("KEY_LAST_ACTIVE", 409, "这是该渠道此用途的最后一个有效密钥,请先添加新密钥",
              "This is the channel's last active key of its use (request signing, or callbacks): add its successor first"),
    ErrorSpec("CALLBACK_PREFIX_INVALID", 422, "回调地址前缀不合规(规则同 notify_url),或指向内部地址",
              "A callback URL prefix breaks notify_url's rules, or is or resolves to an address we never call"),
    ErrorSpec("NOTIFICATION_NOT_FOUND", 404, "通知不存在(或不属于该渠道)", "This channel has no such notification"),
    ErrorSpec("CALLBACK_NOT_FOUND", 404, "该订单没有回调通知", "This order has no callback (no notify_url, or no final status yet)"),
    # --- staff (the admin API)
    ErrorSpec("ADMIN_AUTH_REQUIRED", 401, "需要有效的员工令牌(Bearer)", "A valid staff bearer token is required"),
    ErrorSpec("ADMIN_FORBIDDEN", 403, "该员工角色无权执行此操作", "This member of staff's role may not do this"),
    # --- the request
    ErrorSpec("INVALID_REQUEST", 400, "请求格式或参数错误", "The request is malformed or a field is invalid"),
    ErrorSpec("PAYLOAD_TOO_LARGE", 413, "请求体过大", "The request body is too large"),
    ErrorSpec("REQUEST_TIMEOUT", 408, "请求体接收超时", "The request body did not arrive in time"),
    ErrorSpec("UNSUPPORTED_MEDIA_TYPE", 415, "请求体须为 application/json", "The request body must be application/json"),
    ErrorSpec("NOT_FOUND", 404, "资源不存在", "No such resource"),
    ErrorSpec("METHOD_NOT_ALLOWED", 405, "不支持该请求方法", "Method not allowed"),
    ErrorSpec("PAYMENT_TRANSACTION_ID_INVALID", 422, "支付交易号格式错误:仅限英文字母、数字及 _ - . :,不得含空格或不可见字符",
              "payment.transaction_id may hold only ASCII letters, digits and _ - . : (no spaces, no invisible characters)"),
    # --- accounts, catalog, pricing
    ErrorSpec("ACCOUNT_INVALID", 400, "充值账号格式错误", "The account id does not have the format of its account type"),
    ErrorSpec("ACCOUNT_NOT_SERVED", 422, "该号码不是中国联通用户(或已携号转网),无法充值",
              "We do not serve this account (not a China Unicom number, or ported to another carrier)"),
    ErrorSpec("SKU_UNKNOWN", 422, "商品不存在", "No product has this SKU"),
    ErrorSpec("SKU_NOT_AVAILABLE", 422, "该渠道不能向此账号销售该商品", "This channel may not sell this SKU to this account"),
    ErrorSpec("PRICE_MISMATCH", 422, "支付金额与该渠道当前售价不符", "paid_fen differs from this channel's current price"),
    # --- orders
    ErrorSpec("IDEMPOTENCY_CONFLICT", 409, "该渠道订单号已用于内容不同的请求",
              "This channel_order_id was already used with a different request"),
    ErrorSpec("PAYMENT_ALREADY_USED", 409, "该支付流水(支付方式与交易号)已用于另一笔订单,一笔支付只能对应一笔订单",
              "This payment (method and transaction_id) already backs another order: one payment, one order"),
    ErrorSpec("ORDER_NOT_FOUND", 404, "订单不存在", "No such order"),
    ErrorSpec("ILLEGAL_TRANSITION", 409, "订单当前状态不允许该操作", "The order's status does not allow this"),
    # --- history and statements
    ErrorSpec("CURSOR_INVALID", 422, "分页游标无效:须原样使用上一页返回的 next_cursor",
              "The cursor is not one this API gave out: pass the previous page's next_cursor unchanged"),
    ErrorSpec("DATE_INVALID", 422, "日期无效:须为 YYYY-MM-DD 格式的北京时间日期,且不晚于今天",
              "date must be a day written YYYY-MM-DD (Beijing time), today or earlier"),
    ErrorSpec("TIME_RANGE_INVALID", 422, "时间范围无效:from、to 须为带时区的 ISO 8601 时间或 YYYY-MM-DD(北京时间),且 from 早于 to",
              "from and to must be ISO 8601 times with an offset, or days written YYYY-MM-DD (Beijing time), "
              "and from must be before to"),
    # --- voucher cards
    ErrorSpec("VOUCHER_INVALID", 422, "卡密无效", "The PIN is not valid"),
    ErrorSpec("VOUCHER_EXPIRED", 422, "卡券已过期", "The voucher card has expired"),
    ErrorSpec("VOUCHER_FROZEN", 422, "卡券已冻结", "The voucher card is frozen"),
    ErrorSpec("VOUCHER_NOT_ACTIVE", 422, "卡券未激活或已作废", "The voucher card is not active (not sold yet, or voided)"),
    ErrorSpec("VOUCHER_ALREADY_REDEEMED", 409, "卡券已被使用或正在使用中", "The voucher card is redeemed, or being redeemed"),
    ErrorSpec("VOUCHER_LOCKED_OUT", 429, "卡密错误次数过多,已被暂时锁定", "Too many wrong PINs: locked out for a while"),
    ErrorSpec("VOUCHER_BATCH_NOT_FOUND", 404, "卡券批次不存在", "No such voucher batch"),
    ErrorSpec("VOUCHER_NOT_FOUND", 404, "卡券不存在", "No such voucher card"),
    # --- risk
    ErrorSpec("RISK_CHALLENGE_REQUIRED", 403, "需要加强验证(短信验证码、支付密码)后重试",
              "Step up verification (SMS code, payment password) and try again"),
    ErrorSpec("RISK_DENIED", 403, "风控拒绝该请求", "The risk engine refused this request"),
    # --- refunds and the review desk (staff)
    ErrorSpec("REFUND_NOT_FOUND", 404, "退款不存在", "No such refund"),
    ErrorSpec("REFUND_NOT_FAILED", 409, "该退款不处于失败状态", "The refund is not failed (any more)"),
    ErrorSpec("REFUND_AT_PROVIDER", 409, "支付机构已受理该退款,不能再线下退款",
              "The payment provider has this refund: it must not also be paid back by hand"),
    ErrorSpec("PROVIDER_UNAVAILABLE", 503, "支付机构暂时无响应,请稍后重试", "The payment provider did not answer; try again"),
    ErrorSpec("NOTICE_SIGNATURE_INVALID", 401, "支付机构通知签名校验失败", "The provider notice's signature does not verify"),
    ErrorSpec("CALENDAR_INVALID", 400, "工作日历配置有误", "The calendar year is not valid"),
    ErrorSpec("CASE_NOT_FOUND", 404, "复核工单不存在", "No such review case"),
    ErrorSpec("CASE_ALREADY_RESOLVED", 409, "复核工单已处理", "The review case is already resolved"),
    ErrorSpec("CASE_AWAITING_SECOND_APPROVAL", 409, "该工单已有待复核的处理意见,须由第二人审批",
              "An action was proposed on this case and awaits a second person's approval"),
    ErrorSpec("NO_PROPOSAL", 409, "该工单没有待审批的处理意见", "Nothing was proposed on this case"),
    ErrorSpec("REVIEW_ACTION_NOT_APPLICABLE", 409, "该处理方式不适用于此工单或订单",
              "This action does not fit the case (or the order is no longer under review)"),
    ErrorSpec("FOUR_EYES_SAME_PERSON", 403, "大额处理须由另一名员工审批(双人复核)",
              "Four eyes: the second approval must come from another member of staff"),
    ErrorSpec("FULFILMENT_IN_PROGRESS", 409, "计费适配器仍在处理该订单,请等待其结果",
              "The BOSS adapter is still working on this order: wait for its outcome"),
    ErrorSpec("BOSS_CONFIRMED_CREDITED", 409, "计费系统已确认充值成功,不能确认为未到账",
              "BOSS confirmed the credit: the order cannot be confirmed not credited"),
    ErrorSpec("RISK_RULESET_INVALID", 422, "风控规则集无效(详情列出每处问题),未保存",
              "The risk rule-set is not valid (details name each problem); nothing was stored"),
    ErrorSpec("RISK_RULESET_NOT_FOUND", 404, "风控规则集版本不存在", "No risk rule-set has this version"),
    ErrorSpec("RISK_RULESET_IS_LIVE", 409, "该规则集版本已在生效,不能同时影子运行",
              "This rule-set version is live; it cannot also run in shadow"),
    # --- availability
    ErrorSpec("RATE_LIMITED", 429, "超出该渠道的请求配额,请按 Retry-After 稍后重试",
              "This channel's request quota is used up; retry after Retry-After seconds"),
    ErrorSpec("OVERLOADED", 503, "网关繁忙,请求未被处理,请按 Retry-After 稍后使用相同渠道订单号重试",
              "The gateway is at capacity and did not take this request; retry after Retry-After seconds"),
    ErrorSpec("SERVICE_UNAVAILABLE", 503, "服务暂时不可用,请使用相同渠道订单号重试",
              "Temporarily unavailable; retry with the same channel_order_id"),
    ErrorSpec("UPSTREAM_TIMEOUT", 503, "处理超时,结果未知,请使用相同渠道订单号重试或查询",
              "Timed out; the outcome is unknown: retry with the same channel_order_id, or query it"),
    ErrorSpec("BOSS_SUBSCRIBER_NOT_FOUND", 404, "计费系统中无此用户", "BOSS has no such subscriber"),
    ErrorSpec("BOSS_UNAVAILABLE", 503, "计费系统暂时不可用,请稍后重试", "BOSS is unavailable; try again later"),
    ErrorSpec("INTERNAL_ERROR", 500, "系统内部错误", "Internal error"),
]

CATALOGUE: dict[str, ErrorSpec] = {s.code: s for s in _SPECS}

_BY_GRPC_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: "INVALID_REQUEST",
    grpc.StatusCode.NOT_FOUND: "NOT_FOUND",
    grpc.StatusCode.ALREADY_EXISTS: "IDEMPOTENCY_CONFLICT",
    grpc.StatusCode.FAILED_PRECONDITION: "INVALID_REQUEST",
    grpc.StatusCode.UNAVAILABLE: "SERVICE_UNAVAILABLE",
    grpc.StatusCode.DEADLINE_EXCEEDED: "UPSTREAM_TIMEOUT",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "SERVICE_UNAVAILABLE",
}


class ApiError(Exception):
    """An error a channel gets, as `{code, message, request_id}` with the catalogue's HTTP status."""

    def __init__(self, code: str, detail: str = "", *, details: Mapping[str, object] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        assert code in CATALOGUE, f"undocumented error code {code}"
        super().__init__(f"{code}: {detail}")
        self.spec = CATALOGUE[code]
        self.detail = detail
        self.details = dict(details or {})
        self.headers = headers or {}


def code_for_remote(status: grpc.StatusCode, code: str) -> str:
    """The catalogue code for a failed gRPC call: the callee's own code when documented."""
    if code in CATALOGUE:
        return code
    return _BY_GRPC_STATUS.get(status, "INTERNAL_ERROR")


def message(spec: ErrorSpec, accept_language: str | None) -> str:
    return spec.en if accept_language and accept_language.lower().lstrip().startswith("en") else spec.zh
