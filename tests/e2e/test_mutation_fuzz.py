"""A mutation fuzzer over every signed channel endpoint (issue 13, Done when): valid requests, mutated one way
each (bytes, Unicode look-alikes, fields dropped or duplicated, types swapped, huge values, path and query
segments bent), then signed again so that the mutation reaches the handlers past the signature check (a few
bend the signing headers themselves). Bounded in time (`FUZZ_SECONDS`, 40 s by default) and seeded
(`FUZZ_SEED`: the failing seed is in the report, so a run can be repeated).

What must hold: no answer is a 5xx, every refusal carries a documented error code, and a refused request
creates nothing (the fuzz channel's orders are exactly those it was answered 2xx for; voucher cards are used
only by the redemptions that were accepted). The operations come from the OpenAPI document, so a new channel
endpoint is fuzzed as soon as it is documented (with a generic seed until it gets its own below).

The app endpoints (`/app/v1`) of issue 13 do not exist yet: there is nothing of theirs to fuzz.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
import httpx
import pytest

from gateway.app import create_app
from gateway.errors import CATALOGUE
from gateway.settings import GatewaySettings
from tests.e2e.conftest import create_channel, secret_of, some_number, staff_headers
from topup_client.signing import signed_headers
from topup_devstack.stack import Stack

SECONDS = float(os.environ.get("FUZZ_SECONDS", "40"))
#: make test replays one seed (a red run is the same run again); FUZZ_SEED=random (or a number) explores others
_SEED = os.environ.get("FUZZ_SEED", "11")
SEED = int(time.time()) if _SEED == "random" else int(_SEED)
MAX_REQUESTS = 5000

OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in create_app(GatewaySettings()).openapi()["paths"].items()
    if path.startswith("/v1/")
    for method in item
)

# --- what a mutation may put in place of a value -------------------------------------------------------------

LOOK_ALIKE_DIGITS = {
    "fullwidth": {str(d): chr(0xFF10 + d) for d in range(10)},
    "arabic-indic": {str(d): chr(0x0660 + d) for d in range(10)},
    "superscript": {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸",
                    "9": "⁹"},
    "devanagari": {str(d): chr(0x0966 + d) for d in range(10)},
}
STRAY = ["\n", "\r\n", " ", "\t", "\u200b", "\u200d", "\ufeff", "\u202e", "\u0000", "\u00a0", "\u0301", "\ud800",
         "%00", "%0a", "../", "..", "?x=1", "#", "/", "\\", "'", '"', ";--", "${x}", "{{7*7}}", "<script>"]
ODD_VALUES: list[Any] = [None, True, False, 0, -1, 1.5, -0.0, 1e308, 2**63, -(2**63) - 1, 10**30, "", " ", "null",
                         "0", "NaN", [], {}, [None], {"": None}, "x" * 10_000, "９" * 18, "1" * 400]


def look_alike(text: str, rng: random.Random) -> str:
    table = LOOK_ALIKE_DIGITS[rng.choice(sorted(LOOK_ALIKE_DIGITS))]
    if rng.random() < 0.5:  # all digits, or one of them
        return "".join(table.get(c, c) for c in text)
    digits = [i for i, c in enumerate(text) if c in table]
    if not digits:
        return text + table["1"]
    i = rng.choice(digits)
    return text[:i] + table[text[i]] + text[i + 1:]


def bend_string(text: str, rng: random.Random) -> str:
    choice = rng.randrange(7)
    if choice == 0:
        return look_alike(text, rng)
    if choice == 1:
        return text + rng.choice(STRAY)
    if choice == 2:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(STRAY) + text[i:]
    if choice == 3:
        return text.upper() if text != text.upper() else text.lower()
    if choice == 4:
        return text * rng.choice([2, 10, 200])
    if choice == 5:
        return text[: rng.randrange(len(text) + 1)]
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)  # fullwidth ASCII


def swap_type(value: Any, rng: random.Random) -> Any:
    if isinstance(value, bool):
        return rng.choice([1, "true", None])
    if isinstance(value, int):
        return rng.choice([str(value), float(value), value + 0.5, -value, value * 10**20, [value], None, True])
    if isinstance(value, str):
        return rng.choice([int(value) if value.isascii() and value.isdigit() else 0, [value], {"value": value},
                           None, True, 1.0])
    if isinstance(value, dict):
        return rng.choice([list(value.values()), json.dumps(value), None, ""])
    if isinstance(value, list):
        return rng.choice([dict(enumerate(value)), None, ""])
    return rng.choice(ODD_VALUES)


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a JSON value (the root is `()`)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_in(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths_in(child, (*prefix, i))
    return found


def replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(value)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return out


def mutate_body(body: Any, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a JSON body: (what was done, the bytes to send)."""
    leaves = [p for p in paths_in(body) if p]
    path = rng.choice(leaves) if leaves else ()
    node: Any = body
    for key in path:
        node = node[key]
    parent: Any = body
    for key in path[:-1]:
        parent = parent[key]
    where = ".".join(str(k) for k in path) or "(root)"
    op = rng.randrange(12)
    if op == 0 and path and isinstance(parent, dict):
        mutated = copy.deepcopy(body)
        target = mutated
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return f"drop {where}", json.dumps(mutated).encode()
    if op == 1 and path and isinstance(parent, dict):
        # the same key twice (json.loads keeps the last): the value we check and the one we store must agree
        text = json.dumps(body)
        key = json.dumps(path[-1])
        other = rng.choice(ODD_VALUES[:12]) if rng.random() < 0.5 else swap_type(node, rng)
        return f"duplicate {where}", text.replace(f"{key}: ", f"{key}: {json.dumps(other)}, {key}: ", 1).encode()
    if op == 2:
        return f"type swap {where}", json.dumps(replace_at(body, path, swap_type(node, rng))).encode()
    if op in (3, 4) and isinstance(node, str):
        return f"bend {where}", json.dumps(replace_at(body, path, bend_string(node, rng)),
                                           ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    if op == 5:
        return f"odd value at {where}", json.dumps(replace_at(body, path, rng.choice(ODD_VALUES))).encode()
    if op == 6 and isinstance(node, int) and not isinstance(node, bool):
        return f"huge {where}", json.dumps(replace_at(body, path, rng.choice([10**20, 2**31, 2**63, -(10**20),
                                                                               10**4000]))).encode()
    if op == 7 and isinstance(parent, dict):
        extra = rng.choice(["__proto__", "constructor", "channel_id", "status", "order_id", "paid_fen", "ｓｋｕ", ""])
        mutated = replace_at(body, (*path[:-1], extra), rng.choice(ODD_VALUES))
        return f"extra field {extra!r} beside {where}", json.dumps(mutated).encode()
    raw = json.dumps(body).encode()
    if op == 8:
        i = rng.randrange(len(raw))
        return f"byte {i} flipped", raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:]
    if op == 9:
        return "truncated", raw[: rng.randrange(len(raw))]
    if op == 10:
        depth = rng.choice([100, 1000, 20_000])
        return f"nested {depth} deep", json.dumps(replace_at(body, path, None)).encode().replace(
            b"null", b"[" * depth + b"]" * depth, 1)
    return "wrapped", rng.choice([b"\xef\xbb\xbf" + raw, raw + b"\x00", b"[" + raw + b"]", raw + raw,
                                  raw.decode().encode("utf-16"), raw + b" " * 60_000])


# --- the requests ---------------------------------------------------------------------------------------------

@dataclass
class Seed:
    method: str
    template: str
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    #: a request that may create an order: the channel_order_id it would create it under
    creates: bool = False


@dataclass
class Sent:
    operation: str
    what: str
    method: str
    path: str
    status: int
    code: str | None
    channel_order_id: str | None
    order_id: str | None


class Fuzz:
    def __init__(self, stack: Stack, channel_id: str, secret: str, pins: list[str], rng: random.Random) -> None:
        self.stack = stack
        self.channel_id = channel_id
        self.secret = secret
        self.pins = pins
        self.rng = rng
        self.order_ids: list[str] = []

    def seeds(self) -> dict[tuple[str, str], Callable[[], Seed]]:
        rng = self.rng

        def account() -> dict[str, str]:
            return rng.choice([{"type": "mobile", "id": some_number()}, {"type": "broadband", "id": "01087654321"}])

        def recharge() -> Seed:
            acc = account()
            sku, fen = ("CREDIT_10", 1000) if acc["type"] == "mobile" else ("BROADBAND_50", 5000)
            body = {"channel_order_id": f"fz-{time.time_ns()}", "account": acc, "sku": sku,
                    "payment": {"method": rng.choice(["alipay", "wechat"]), "transaction_id": f"FZ{time.time_ns()}",
                                "paid_fen": fen}}
            if rng.random() < 0.3:
                body["risk_context"] = {"device_id": "dev-1", "ip": "203.0.113.9", "user_id": "u-1"}
            return Seed("POST", "/v1/recharges", body=body, creates=True)

        def redemption() -> Seed:
            body = {"channel_order_id": f"fz-{time.time_ns()}", "account": {"type": "mobile", "id": some_number()},
                    "pin": rng.choice(self.pins) if self.pins else "1" * 18}
            return Seed("POST", "/v1/voucher-redemptions", body=body, creates=True)

        def order() -> str:
            return rng.choice(self.order_ids) if self.order_ids else "01a20e6d-ee0d-7314-bfe3-cbe181f6a9ab"

        return {
            ("POST", "/v1/recharges"): recharge,
            ("POST", "/v1/voucher-redemptions"): redemption,
            ("GET", "/v1/recharges"): lambda: Seed("GET", "/v1/recharges", query={"channel_order_id": "fz-1"}),
            ("GET", "/v1/recharges/{order_id}"): lambda: Seed(
                "GET", "/v1/recharges/{order_id}", {"order_id": order()},
                query={"include_history": "true"} if rng.random() < 0.5 else {}),
            ("GET", "/v1/products"): lambda: Seed("GET", "/v1/products", query={"account": account()["id"]}),
            ("GET", "/v1/accounts/{account_type}/{account_id}/recharges"): lambda: Seed(
                "GET", "/v1/accounts/{account_type}/{account_id}/recharges", dict(
                    zip(("account_type", "account_id"), account().values(), strict=True)),
                query={"status": "SUCCEEDED"} if rng.random() < 0.3 else {}),
            ("GET", "/v1/accounts/{account_type}/{account_id}/balance"): lambda: Seed(
                "GET", "/v1/accounts/{account_type}/{account_id}/balance",
                {"account_type": "mobile", "account_id": some_number()}),
        }

    def generic(self, method: str, template: str) -> Seed:
        """An operation without a seed of its own: its path parameters filled in, no body."""
        params = {name.strip("{}"): "x" for name in template.split("/") if name.startswith("{")}
        return Seed(method, template, params, body={} if method in ("POST", "PUT", "PATCH") else None)

    def mutate(self, seed: Seed) -> tuple[str, str, str, bytes | None, Callable[[dict[str, Any]], None] | None]:
        """(what, method, path with query, body, header bend) for one mutation of `seed`."""
        rng = self.rng
        params, query, body = dict(seed.path_params), dict(seed.query), seed.body
        raw = json.dumps(body).encode() if body is not None else None
        what = "as is"
        bend_headers: Callable[[dict[str, Any]], None] | None = None
        target = rng.random()
        if body is not None and target < 0.6:
            what, raw = mutate_body(body, rng)
        elif params and target < 0.75:
            name = rng.choice(sorted(params))
            params[name] = bend_string(params[name], rng) if rng.random() < 0.8 else rng.choice(["..", ".", "", "%2F"])
            what = f"path {name}={params[name]!r}"
        elif target < 0.85:
            name = rng.choice(sorted(query) or ["account", "cursor", "status", "channel_order_id", "limit"])
            value = query.get(name, "1")
            query[name] = bend_string(value, rng) if rng.random() < 0.7 else rng.choice(["", "-1", "9" * 40, "null"])
            what = f"query {name}={query[name]!r}"
        elif target < 0.87:
            encoding = rng.choice(["utf-8", "latin-1"])

            def bend_headers(headers: dict[str, Any], encoding: str = encoding) -> None:
                stamp = headers["X-Timestamp"]  # the clock's value in look-alike digits (a superscript one ...)
                headers["X-Timestamp"] = (stamp[:-1] + "¹").encode(encoding) if encoding == "latin-1" \
                    else look_alike(stamp, rng).encode(encoding)

            what = f"header X-Timestamp in look-alike digits ({encoding})"
        elif target < 0.9:
            header, value = rng.choice([
                ("X-Nonce", "n" * 15), ("X-Nonce", "n" * 65), ("X-Nonce", "ｎ" * 20), ("X-Timestamp", "1e9"),
                ("X-Timestamp", "-1"), ("X-Timestamp", "9" * 30), ("X-Timestamp", " 1"), ("X-Channel-Id", "ｄemo"),
                ("X-Channel-Id", ""), ("X-Signature", "=" * 44), ("X-Signature", "x" * 5000),
                ("Content-Type", "application/json; charset=utf-16"), ("Content-Type", "application/json, text/plain"),
            ])

            def bend_headers(headers: dict[str, Any], header: str = header, value: str = value) -> None:
                headers[header] = value.encode()  # as UTF-8 bytes on the wire

            what = f"header {header}={value[:20]!r}"
        path = seed.template
        as_bytes = {k: v.encode("utf-8", "surrogatepass") for k, v in query.items()}  # a lone surrogate too
        for name, value in params.items():
            path = path.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe="")
                                if rng.random() < 0.9 else value)
        if query:
            plain = "&".join(f"{k}={v}" for k, v in query.items())
            path += "?" + (urlencode(as_bytes) if rng.random() < 0.9 else plain)
        if rng.random() < 0.05 and query:
            path += "&" + urlencode(as_bytes)  # every parameter twice
        return what, seed.method, path, raw, bend_headers

    async def send(self, http: httpx.AsyncClient, seed: Seed) -> Sent | None:
        """Send one mutation of `seed`, signed for what goes on the wire; None when no client could send it
        (a URL that HTTP cannot carry)."""
        what, method, path, raw, bend = self.mutate(seed)
        try:
            request = http.build_request(method, path, content=raw)
        except (httpx.InvalidURL, UnicodeError):
            return None
        sent_path = request.url.raw_path.decode("ascii")
        headers: dict[str, Any] = signed_headers(self.channel_id, self.secret, method, sent_path, raw or b"")
        if raw is not None:
            headers["Content-Type"] = "application/json"
        if bend is not None:
            bend(headers)
        request.headers.update(headers)
        request.headers.encoding = "latin-1"  # httpx reads them back (its cookie jar): ASCII would refuse bytes
        try:
            reply = await http.send(request)
        except httpx.LocalProtocolError:
            return None
        except (httpx.ReadError, httpx.RemoteProtocolError) as err:  # no answer at all: as bad as a 5xx
            return Sent(seed.template, f"{what}: the connection dropped ({type(err).__name__})", method, sent_path,
                        599, None, None, None)
        try:
            answer = reply.json()
        except ValueError:
            answer = None
        code = answer.get("code") if isinstance(answer, dict) else None
        order_id = answer.get("order_id") if isinstance(answer, dict) and reply.status_code < 300 else None
        if order_id and method == "POST":
            self.order_ids.append(order_id)
        try:
            channel_order_id = json.loads(raw or b"null").get("channel_order_id") if seed.creates else None
        except (ValueError, AttributeError, RecursionError):
            channel_order_id = None
        return Sent(seed.template, what, method, sent_path, reply.status_code, code,
                    channel_order_id if isinstance(channel_order_id, str) else None, order_id)


async def _batch(stack: Stack, count: int) -> tuple[str, list[str]]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=60) as http:
        reply = await http.post("/admin/v1/voucher-batches", headers=staff_headers("admin"), json={
            "sku": "CREDIT_20", "count": count, "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()})
        assert reply.status_code == 201, reply.text
        batch_id = reply.headers["x-batch-id"]
        pins = [row["pin"] for row in csv.DictReader(io.StringIO(reply.text))]
        done = await http.post(f"/admin/v1/voucher-batches/{batch_id}/activate", headers=staff_headers("admin"),
                               json={"reason": "fuzzing"})
        assert done.status_code == 200, done.text
    return batch_id, pins


@pytest.mark.timeout(SECONDS + 90)
async def test_mutated_signed_requests_get_no_5xx_and_refusals_create_nothing(stack: Stack) -> None:
    rng = random.Random(SEED)
    channel_id = f"fuzz-{time.time_ns() % 10**12}"
    created = await create_channel(stack.gateway, channel_id, permissions=["balance"],
                                   quota={"rate_per_second": 100_000, "burst": 100_000},
                                   prices=[{"sku": "CREDIT_10", "price_fen": 1000},
                                           {"sku": "BROADBAND_50", "price_fen": 5000}])
    batch_id, pins = await _batch(stack, 60)
    fuzz = Fuzz(stack, channel_id, secret_of(created, "hmac"), pins, rng)
    seeds = fuzz.seeds()
    generic = [op for op in OPERATIONS if op not in seeds]
    sent: list[Sent] = []
    deadline = time.monotonic() + SECONDS
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http:
        while time.monotonic() < deadline and len(sent) < MAX_REQUESTS:
            method, template = rng.choice(OPERATIONS)
            seed = seeds[(method, template)]() if (method, template) in seeds else fuzz.generic(method, template)
            if (one := await fuzz.send(http, seed)) is not None:
                sent.append(one)

    by_status = Counter(f"{s.method} {s.operation} {s.status} {s.code or ''}".strip() for s in sent)
    report = (f"seed {SEED}, {len(sent)} requests in {SECONDS:.0f} s; generic seeds for {generic}; answers:\n"
              + "\n".join(f"  {n:5d} {key}" for key, n in sorted(by_status.items())))
    print("\n" + report)  # noqa: T201
    server_errors = [s for s in sent if s.status >= 500]
    assert not server_errors, f"{report}\n" + "\n".join(f"{s.status} {s.code} {s.method} {s.path[:200]}: {s.what}"
                                                        for s in server_errors[:20])
    undocumented = [s for s in sent if s.status >= 400 and s.code not in CATALOGUE]
    assert not undocumented, "\n".join(f"{s.status} {s.code!r} {s.method} {s.path[:200]}: {s.what}"
                                       for s in undocumented[:20])
    # the run got past the signature, to the handlers, and some requests were accepted
    assert sum(1 for s in sent if s.status not in (401, 415)) > len(sent) / 2, report
    assert {s.operation for s in sent if s.order_id and s.method == "POST"} == {"/v1/recharges",
                                                                                "/v1/voucher-redemptions"}, report

    # refused requests created nothing: the channel's orders are exactly the ones it was answered 2xx for
    accepted = {s.order_id for s in sent if s.order_id and s.method == "POST"}
    refused = {s.channel_order_id for s in sent if s.channel_order_id and s.status >= 400}
    conn = await asyncpg.connect(stack.ports["database_url"])
    try:
        rows = await conn.fetch("SELECT order_id, channel_order_id FROM orders.orders WHERE channel_id = $1",
                                channel_id)
        orders = {str(r["order_id"]) for r in rows}
        # compared here, not in SQL: a refused id may hold what PostgreSQL's text cannot (NUL, lone surrogates)
        # (an id a request was accepted under may be refused later, a replay with another body: that order is
        # the accepted one's)
        stray = [r for r in rows if r["channel_order_id"] in refused and str(r["order_id"]) not in accepted]
        cards = await conn.fetch("SELECT card_number, state, order_id FROM orders.vouchers WHERE batch_id = $1"
                                 " AND state <> 'active'", batch_id)
    finally:
        await conn.close()
    assert orders == accepted, f"orders not answered 2xx: {sorted(orders - accepted)[:10]}"
    assert not stray, f"refused requests made orders: {[r['channel_order_id'] for r in stray][:10]}"
    # a card left 'active' only for a redemption that was accepted (one that failed gave it back)
    assert all(c["order_id"] is not None and str(c["order_id"]) in accepted for c in cards), [dict(c) for c in cards]
