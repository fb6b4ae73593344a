"""What BOSS knows: its result codes, its number segments, its data packs, and the sandbox numbers."""

from __future__ import annotations

from dataclasses import dataclass

from topup_platform import identifiers

# Result codes, as BOSS interfaces return them (HTTP 200 for business outcomes, 503 for busy).
SUCCESS = "0000"
BAD_REQUEST = "1001"
SUBSCRIBER_NOT_FOUND = "2001"
SUBSCRIBER_SUSPENDED = "2002"
PACK_UNKNOWN = "2003"
CREDIT_BLOCKED = "2004"
TRANSACTION_NOT_FOUND = "3004"
DUPLICATE_MISMATCH = "3005"
SYSTEM_BUSY = "5001"
DEADLINE_EXCEEDED = "5004"

MESSAGES = {
    SUCCESS: "成功",
    BAD_REQUEST: "请求参数错误",
    SUBSCRIBER_NOT_FOUND: "用户不存在",
    SUBSCRIBER_SUSPENDED: "用户已停机",
    PACK_UNKNOWN: "流量包不存在",
    CREDIT_BLOCKED: "该用户禁止充值话费",
    TRANSACTION_NOT_FOUND: "交易不存在",
    DUPLICATE_MISMATCH: "交易流水号重复且内容不一致",
    SYSTEM_BUSY: "系统繁忙,请稍后再试",
    DEADLINE_EXCEEDED: "请求已超过截止时间,未处理",
}

UNICOM_SEGMENTS = frozenset(
    ["130", "131", "132", "145", "146", "155", "156", "166", "175", "176", "185", "186", "196"]
)

DATA_PACKS = {"DP_1G_7D": 1024, "DP_5G_30D": 5120, "DP_10G_30D": 10240}


@dataclass(frozen=True)
class Sandbox:
    """Numbers that force an outcome, like a payment sandbox's test cards (DESIGN.md section 5)."""

    NOT_FOUND = "18600000001"
    SUSPENDED = "18600000002"
    BUSY_TWICE = "18600000003"
    ALWAYS_BUSY = "18600000004"
    REPLY_LOST = "18600000005"
    NEVER_ANSWERS = "18600000006"
    CREDIT_BLOCKED = "18600000007"  # data packs provision; call credit is refused
    LATE_WRITE = "18600000008"  # the first write is held up inside BOSS past the caller's patience; then busy


def valid_account(account_type: str, account_id: str) -> bool:
    """ASCII digits, matched whole, like the real BOSS: a fullwidth digit or a trailing newline is no number."""
    return identifiers.valid_account(account_type, account_id)
