"""The risk engine on real PostgreSQL: velocity counted atomically (two replicas' worth of pools at once),
idempotent retries, lists with expiry, cash-out spray, promotion abuse, large amounts, the voucher PIN
lockout fed by events, shadow mode and a rule change reaching a running rule book."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import pytest
from google.protobuf.message import Message

from risk.consumers import FeatureUpdates
from risk.convert import StoredDecision, attempt_from_pb
from risk.rulebook import RuleBook, default_body
from risk.service import RiskService
from topup.common.v1 import common_pb2
from topup.events.v1 import envelope_pb2, vouchers_pb2
from topup.events.v1 import orders_pb2 as order_events_pb2
from topup.events.v1 import risk_pb2 as risk_events_pb2
from topup.orders.v1 import orders_pb2
from topup.risk.v1 import risk_pb2
from topup_platform.consumer import EventContext
from topup_platform.db import create_pool
from topup_platform.events import make_envelope
from topup_platform.migrations import migrate
from topup_platform.outbox import Outbox
from topup_platform.runtime import Periodic, service_migrations
from topup_platform.timeutil import to_timestamp, utcnow

pytestmark = pytest.mark.integration


def number() -> str:
    return f"186{uuid.uuid4().int % 10**8:08d}"


def attempt(account: str | None = None, *, amount: int = 5000, payer: str = "", device: str = "", ip: str = "",
            action: str = "recharge", channel: str = "demo", key: str | None = None) -> tuple[Any, dict[str, Any]]:
    return attempt_from_pb(risk_pb2.EvaluateRequest(
        idempotency_key=key or f"{channel}:{uuid.uuid4().hex}", channel_id=channel,
        account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account or number()), sku="CREDIT_50",
        amount_fen=amount, payment=common_pb2.Payment(method=common_pb2.PAYMENT_METHOD_ALIPAY, transaction_id="T",
                                                      paid_fen=amount, payer_account=payer),
        device_id=device, ip=ip, action=action,
    ))


@pytest.fixture
async def engine(infra, schema: str) -> AsyncIterator[tuple[RiskService, RiskService]]:  # type: ignore[no-untyped-def]
    """Two services on one schema, each with its own pools and rule book: two replicas."""
    conn = await asyncpg.connect(infra.database_url)
    try:
        await migrate(conn, schema, service_migrations("risk"))
    finally:
        await conn.close()
    services, pools = [], []
    for _ in range(2):
        pool = await create_pool(infra.database_url, schema=schema, application_name="tests", max_size=10)
        features = await create_pool(infra.database_url, schema=schema, application_name="tests", max_size=10,
                                     server_settings={"synchronous_commit": "off"})
        pools += [pool, features]
        book = RuleBook(pool)
        await book.seed()
        await book.reload()
        services.append(RiskService(pool, Outbox("risk"), book, features))
    yield services[0], services[1]
    for p in pools:
        await p.close()


async def _apply(service: RiskService, *events: Message) -> None:
    updates = FeatureUpdates(service.rulebook)
    async with service.pool.acquire() as conn, conn.transaction():
        envelopes = [make_envelope(e, aggregate_type="x", aggregate_id="x", producer="tests") for e in events]
        ctx = EventContext(conn=conn, envelope=envelopes[0], topic="t")
        await updates.apply(ctx, list(zip(envelopes, events, strict=True)))


def _features(d: StoredDecision) -> dict[str, Any]:
    assert d.inputs is not None
    return d.inputs["features"]  # type: ignore[no-any-return]


async def test_velocity_is_counted_once_per_attempt_even_across_two_replicas(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    account = number()
    attempts = [attempt(account) for _ in range(30)]
    # 30 attempts at once: single calls and batches, alternating between the replicas.
    calls = []
    for i in range(0, 30, 3):
        calls.append((a if i % 2 else b).evaluate_many(attempts[i:i + 2]))
        calls.append((b if i % 2 else a).evaluate(*attempts[i + 2]))
    results = await asyncio.gather(*calls)
    decisions = [d for r in results for d in (r if isinstance(r, list) else [r])]
    seen = sorted(_features(d)["velocity"]["account"]["count_10m"] for d in decisions)
    assert seen == list(range(1, 31))  # every attempt saw a distinct count: nothing lost, nothing doubled
    outcomes = [d.verdict.outcome.value for d in decisions]
    assert outcomes.count("ALLOW") == 20  # velocity_account_burst: more than 20 within 10 minutes
    assert {d.verdict.reason_code for d in decisions if d.verdict.outcome.value != "ALLOW"} == {"RISK_VELOCITY"}


async def test_a_retried_attempt_gets_its_decision_again_and_counts_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    account = number()
    first = attempt(account)
    d1 = await a.evaluate(*first)
    again = await asyncio.gather(b.evaluate(*first), a.evaluate_many([first, first]))
    assert {d1.decision_id, again[0].decision_id, *(d.decision_id for d in again[1])} == {d1.decision_id}
    d2 = await b.evaluate(*attempt(account))
    assert _features(d2)["velocity"]["account"]["count_10m"] == 2
    async with a.pool.acquire() as conn:
        rows = await conn.fetch("SELECT envelope FROM outbox")
    events = []
    for r in rows:
        envelope = envelope_pb2.EventEnvelope.FromString(r["envelope"])
        payload = risk_events_pb2.DecisionMade()
        envelope.payload.Unpack(payload)
        events.append(payload.decision.decision_id)
    assert sorted(events) == sorted([str(d1.decision_id), str(d2.decision_id)])  # one event per decision


async def test_block_list_with_expiry_and_allow_list(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    account, device = number(), f"dev-{uuid.uuid4().hex}"
    await a.put_list_entry("block", "device", device, None, "stolen phone", "alice")
    denied = await b.evaluate(*attempt(account, device=device))
    assert (denied.verdict.outcome.value, denied.verdict.reason_code) == ("DENY", "RISK_BLOCKLISTED")
    await a.put_list_entry("block", "ip", "10.0.0.7", utcnow() + timedelta(seconds=1), "burst", "alice")
    assert (await a.evaluate(*attempt(ip="10.0.0.7"))).verdict.reason_code == "RISK_BLOCKLISTED"
    await asyncio.sleep(1.2)
    assert (await a.evaluate(*attempt(ip="10.0.0.7"))).verdict.outcome.value == "ALLOW"  # expired
    assert await a.delete_list_entry("block", "device", device, "alice")
    assert (await b.evaluate(*attempt(account, device=device))).verdict.outcome.value == "ALLOW"
    # An allow-listed account is exempt from its velocity limit.
    trusted = number()
    await a.put_list_entry("allow", "account", trusted, None, "enterprise account", "alice")
    outcomes = {(await a.evaluate(*attempt(trusted))).verdict.outcome.value for _ in range(22)}
    assert outcomes == {"ALLOW"}


async def test_cash_out_spray_one_payer_many_numbers(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    payer = f"2088{uuid.uuid4().int % 10**12:012d}"
    decisions = [await (a, b)[i % 2].evaluate(*attempt(payer=payer)) for i in range(10)]
    reasons = [(d.verdict.outcome.value, d.verdict.reason_code) for d in decisions]
    assert reasons[3][0] in ("ALLOW", "CHALLENGE") and reasons[3][1] != "RISK_CASHOUT_SPRAY"
    assert reasons[4] == ("REVIEW", "RISK_CASHOUT_SPRAY")  # the 5th different account
    assert reasons[9] == ("DENY", "RISK_CASHOUT_SPRAY")  # the 10th
    # The same payer for the same number again is not a new account.
    repeat = await a.evaluate(*attempt(decisions[0].inputs["account_id"], payer=payer))  # type: ignore[index]
    assert _features(repeat)["velocity"]["payer"]["accounts_24h"] == 10


async def test_first_recharge_promotion_abuse_from_one_device(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    device = f"dev-{uuid.uuid4().hex}"
    veteran = number()
    await _apply(a, *[_succeeded(veteran) for _ in range(3)])  # an account with a history is not "new"
    assert (await a.evaluate(*attempt(veteran, device=device))).verdict.outcome.value == "ALLOW"
    first, second = await a.evaluate(*attempt(device=device)), await b.evaluate(*attempt(device=device))
    assert [first.verdict.outcome.value, second.verdict.outcome.value] == ["ALLOW", "ALLOW"]
    third = await a.evaluate(*attempt(device=device))
    assert (third.verdict.outcome.value, third.verdict.reason_code) == ("DENY", "RISK_PROMO_ABUSE")
    assert _features(third)["velocity"]["device"]["new_accounts_24h"] == 3
    assert _features(third)["velocity"]["device"]["accounts_24h"] == 4
    # The veteran from the same device is not a first recharge: not denied as promotion abuse.
    assert (await b.evaluate(*attempt(veteran, device=device))).verdict.reason_code != "RISK_PROMO_ABUSE"


def _succeeded(account: str, paid: int = 5000) -> order_events_pb2.OrderStatusChanged:
    return order_events_pb2.OrderStatusChanged(
        order=orders_pb2.Order(order_id=str(uuid.uuid4()), account=common_pb2.Account(
            type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account), payment=common_pb2.Payment(paid_fen=paid)),
        change=orders_pb2.StatusChange(to_status=orders_pb2.ORDER_STATUS_SUCCEEDED, at=to_timestamp(utcnow())))


async def test_large_amounts_wait_for_a_person_unless_the_account_or_channel_is_trusted(engine) -> None:  # type: ignore[no-untyped-def]
    a, _ = engine
    account = number()
    held = await a.evaluate(*attempt(account, amount=50000))
    assert (held.verdict.outcome.value, held.verdict.reason_code) == ("REVIEW", "RISK_LARGE_AMOUNT")
    assert (await a.evaluate(*attempt(account, amount=20000))).verdict.outcome.value == "ALLOW"
    # Three successful recharges (order events; one redelivered event is not counted twice) make it trusted.
    events = [_succeeded(account) for _ in range(3)]
    await _apply(a, *events[:2])
    await _apply(a, events[2])
    assert (await a.evaluate(*attempt(account, amount=50000))).verdict.outcome.value == "ALLOW"
    # A trusted channel (allow list) is not held either.
    await a.put_list_entry("allow", "channel", "unicom_app", None, "the official app", "alice")
    assert (await a.evaluate(*attempt(amount=50000, channel="unicom_app"))).verdict.outcome.value == "ALLOW"


def _failed(account: str, device: str = "", ip: str = "", ago: float = 0,
            reason: str = "VOUCHER_INVALID") -> vouchers_pb2.VoucherRedemptionFailed:
    return vouchers_pb2.VoucherRedemptionFailed(
        channel_id="demo", account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account),
        device_id=device, ip=ip, reason_code=reason, at=to_timestamp(utcnow() - timedelta(seconds=ago)))


async def test_voucher_pin_lockout_per_account_device_and_ip(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    account, device = number(), f"dev-{uuid.uuid4().hex}"

    async def redeem(acc: str, **kw: str) -> tuple[str, str]:
        d = await (a, b)[hash(acc) % 2].evaluate(*attempt(acc, amount=0, action="voucher_redemption", **kw))
        return d.verdict.outcome.value, d.verdict.reason_code

    await _apply(a, *[_failed(account, device) for _ in range(4)])
    assert await redeem(account) == ("ALLOW", "")
    await _apply(b, _failed(account, device))  # the 5th failure of the account and of the device
    assert await redeem(account) == ("DENY", "VOUCHER_LOCKED_OUT")
    assert await redeem(number(), device=device) == ("DENY", "VOUCHER_LOCKED_OUT")  # another number, same phone
    assert await redeem(number()) == ("ALLOW", "")
    # A recharge is not a redemption: the lockout does not stop it.
    assert (await a.evaluate(*attempt(account))).verdict.outcome.value == "ALLOW"
    until, recent = await a.lockout("account", account)
    assert until is not None and recent == 6  # 5 wrong PINs, and the guess above: no outcome ever released it
    assert timedelta(minutes=29) < until - utcnow() <= timedelta(minutes=30)

    # IPs (carrier NAT) lock at 10 failures, from any accounts.
    ip = "2001:db8::17"
    await _apply(a, *[_failed(number(), ip=ip) for _ in range(9)])
    assert await redeem(number(), ip=ip) == ("ALLOW", "")
    await _apply(a, _failed(number(), ip="2001:0db8:0:0::17"))  # the same address, written differently
    assert await redeem(number(), ip=ip) == ("DENY", "VOUCHER_LOCKED_OUT")

    # A right PIN of a spent or frozen card guesses nothing: not counted.
    spent = number()
    await _apply(a, *[_failed(spent, reason=r) for r in ["VOUCHER_ALREADY_REDEEMED"] * 8 + ["VOUCHER_FROZEN"] * 2])
    assert await redeem(spent) == ("ALLOW", "")

    # Five failures spread over more than the window lock nothing; a lockout ends after its period.
    slow = number()
    await _apply(a, *[_failed(slow, ago=a_ago) for a_ago in (3700, 2000, 1000, 500, 10)])
    assert await redeem(slow) == ("ALLOW", "")
    past = number()
    await _apply(a, *[_failed(past, ago=1900 + i) for i in range(5)])  # locked 31 minutes ago, for 30
    assert await redeem(past) == ("ALLOW", "")

    # A person confirms the subscriber's identity and lifts the lockout.
    await a.clear_lockout("account", account, "bob", "identity confirmed at the shop")
    await a.clear_lockout("device", device, "bob", "identity confirmed at the shop")
    assert await redeem(account) == ("ALLOW", "")
    # Failures from before the lockout was lifted, whose events arrive only now, are forgiven with it.
    await _apply(a, *[_failed(account, ago=2) for _ in range(5)])
    assert await redeem(account) == ("ALLOW", "")


def _redeemed(channel_order_id: str, account: str, channel: str = "demo") -> order_events_pb2.OrderStatusChanged:
    """The order a redemption created (its PIN was right)."""
    return order_events_pb2.OrderStatusChanged(
        order=orders_pb2.Order(order_id=str(uuid.uuid4()), channel_id=channel, channel_order_id=channel_order_id,
                               account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account),
                               payment=common_pb2.Payment(method=common_pb2.PAYMENT_METHOD_VOUCHER)),
        change=orders_pb2.StatusChange(to_status=orders_pb2.ORDER_STATUS_PENDING))


async def test_parallel_pin_guesses_are_counted_before_any_pin_is_checked(engine) -> None:  # type: ignore[no-untyped-def]
    """50 redemptions at one account at once, over two replicas, with no failure recorded yet: only as many as
    the lockout allows (5) may go on to check a PIN; the others are refused at once."""
    a, b = engine
    account = number()
    keys = [f"demo:par-{uuid.uuid4().hex}" for _ in range(50)]
    decisions = await asyncio.gather(*((a, b)[i % 2].evaluate(*attempt(
        account, amount=0, action="voucher_redemption", key=key)) for i, key in enumerate(keys)))
    outcomes = [(d.verdict.outcome.value, d.verdict.reason_code) for d in decisions]
    assert outcomes.count(("ALLOW", "")) == 5
    assert outcomes.count(("DENY", "VOUCHER_LOCKED_OUT")) == 45
    tried = [k for k, d in zip(keys, decisions, strict=True) if d.verdict.outcome.value == "ALLOW"]
    # The five PINs were right after all (their orders were created): their places go back.
    await _apply(a, *[_redeemed(k.split(":", 1)[1], account) for k in tried])
    assert await a.lockout("account", account) == (None, 0)
    again = await a.evaluate(*attempt(account, amount=0, action="voucher_redemption"))
    assert again.verdict.outcome.value == "ALLOW"


async def test_a_wrong_pin_confirms_its_guess_and_a_right_one_releases_it(engine) -> None:  # type: ignore[no-untyped-def]
    a, _ = engine
    account = number()
    keys = [f"demo:one-{uuid.uuid4().hex}" for _ in range(5)]
    for key in keys:
        assert (await a.evaluate(*attempt(account, amount=0, action="voucher_redemption",
                                          key=key))).verdict.outcome.value == "ALLOW"
    # Four wrong PINs (their events carry the attempt's channel order id), one spent card (a right PIN).
    events = [vouchers_pb2.VoucherRedemptionFailed(
        channel_id="demo", channel_order_id=k.split(":", 1)[1], reason_code=reason, at=to_timestamp(utcnow()),
        account=common_pb2.Account(type=common_pb2.ACCOUNT_TYPE_MOBILE, id=account))
        for k, reason in zip(keys, ["VOUCHER_INVALID"] * 4 + ["VOUCHER_ALREADY_REDEEMED"], strict=True)]
    await _apply(a, *events)
    until, recent = await a.lockout("account", account)
    assert (until, recent) == (None, 4)  # counted once each (not again on top of its guess); the right PIN
    #                                      released its place
    assert (await a.evaluate(*attempt(account, amount=0, action="voucher_redemption"))).verdict.outcome.value \
        == "ALLOW"  # the 5th guess ...
    assert (await a.evaluate(*attempt(account, amount=0, action="voucher_redemption"))).verdict.reason_code \
        == "VOUCHER_LOCKED_OUT"  # ... and no 6th while it is pending


async def test_a_guess_refused_for_another_reason_gives_its_place_back(engine) -> None:  # type: ignore[no-untyped-def]
    a, _ = engine
    account, device = number(), f"dev-{uuid.uuid4().hex}"
    await a.put_list_entry("block", "device", device, None, "stolen phone", "alice")
    for _ in range(8):
        d = await a.evaluate(*attempt(account, amount=0, action="voucher_redemption", device=device))
        assert d.verdict.reason_code == "RISK_BLOCKLISTED"
    assert await a.lockout("account", account) == (None, 0)  # no PIN was checked: nothing counted


async def test_a_channel_has_a_pin_failure_budget_over_all_its_accounts(engine) -> None:  # type: ignore[no-untyped-def]
    """Rotating accounts with no device or IP lock no account: the channel's budget stops the spray."""
    a, _ = engine
    budgeted = RiskService(a.pool, a.outbox, a.rulebook, a.features_pool, channel_pin_budget=20)
    updates_budget = 20  # the service's budget
    channel = f"spray{uuid.uuid4().hex[:8]}"
    decisions = [await budgeted.evaluate(*attempt(number(), amount=0, action="voucher_redemption", channel=channel))
                 for _ in range(updates_budget + 5)]
    outcomes = [(d.verdict.outcome.value, d.verdict.reason_code) for d in decisions]
    assert outcomes[:updates_budget] == [("ALLOW", "")] * updates_budget
    assert outcomes[updates_budget:] == [("DENY", "VOUCHER_LOCKED_OUT")] * 5
    assert set(_features(decisions[-1])["locked_out"]) == {"account", "device", "ip"}
    # Another channel is not affected, nor a recharge of this one.
    assert (await budgeted.evaluate(*attempt(number(), amount=0, action="voucher_redemption"))).verdict.outcome \
        .value == "ALLOW"
    assert (await budgeted.evaluate(*attempt(number(), channel=channel))).verdict.outcome.value == "ALLOW"


async def test_shadow_mode_decides_and_records_without_enforcing(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    doc = orjson.loads(default_body())
    doc["rules"].append({"id": "odd_amount", "description": "Amounts that are not whole yuan",
                         "when": "action == 'recharge' && amount_fen % 100 != 0", "outcome": "DENY", "score": 100,
                         "reason_code": "RISK_ODD_AMOUNT"})
    created = await a.create_ruleset(orjson.dumps(doc).decode(), "deny odd amounts", "alice")
    await a.deploy(created.version, "shadow", "alice")
    await asyncio.gather(a.rulebook.reload(), b.rulebook.reload())

    odd = await b.evaluate(*attempt(amount=1234))
    assert odd.verdict.outcome.value == "ALLOW"  # not enforced
    assert odd.shadow is not None and (odd.shadow.outcome.value, odd.shadow.reason_code) == ("DENY", "RISK_ODD_AMOUNT")
    assert odd.shadow.ruleset_version == f"v{created.version}"
    even = await a.evaluate(*attempt(amount=1200))
    assert even.shadow is not None and even.shadow.outcome.value == "ALLOW"
    stored = await a.get(odd.decision_id)
    assert stored is not None and stored.shadow == odd.shadow

    report = await a.compare_shadow(created.version, None, 10)
    assert (report["decisions"], report["agreements"]) == (2, 1)
    assert ("ALLOW", "DENY", 1) in report["pairs"]
    assert report["differences"][0]["decision_id"] == str(odd.decision_id)
    assert "odd_amount" in report["differences"][0]["shadow_rules"]
    assert "odd_amount" not in report["differences"][0]["live_rules"]

    # Promoted to live, it is enforced.
    await a.deploy(created.version, "live", "alice")
    await asyncio.gather(a.rulebook.reload(), b.rulebook.reload())
    enforced = await b.evaluate(*attempt(amount=1234))
    assert (enforced.verdict.outcome.value, enforced.verdict.reason_code) == ("DENY", "RISK_ODD_AMOUNT")
    assert enforced.shadow is None


async def test_a_rule_change_reaches_a_running_rule_book_within_seconds(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = engine
    refresher = Periodic("rules-refresh", b.rulebook.reload, 0.1, run_at_start=False)  # as the service runs it
    task = asyncio.create_task(refresher.run())
    try:
        doc = orjson.loads(default_body())
        doc["rules"].append({"id": "no_credit_50", "description": "test", "when": "sku == 'CREDIT_50'",
                             "outcome": "CHALLENGE", "score": 10, "reason_code": "RISK_TEST"})
        created = await a.create_ruleset(orjson.dumps(doc).decode(), "", "alice")
        await a.deploy(created.version, "live", "alice")
        async with asyncio.timeout(5):
            while (await b.evaluate(*attempt())).verdict.reason_code != "RISK_TEST":
                await asyncio.sleep(0.05)
        assert b.rulebook.current.live.version == created.version
    finally:
        await refresher.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
