"""The internal network trusts no one for being able to connect (issue 13, item 5): in dev the services listen on
loopback only; gRPC is mutual TLS with certificates of the platform's CA; each service answers only the callers
and methods it expects; the member of staff behind an admin change is the gateway's signed assertion, never
a request field."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.e2e.conftest import staff_headers
from topup.common.v1 import common_pb2
from topup.orders.v1 import orders_pb2, orders_pb2_grpc
from topup.risk.v1 import risk_pb2, risk_pb2_grpc
from topup_devstack.certs import issue, issue_ca
from topup_devstack.stack import Stack
from topup_platform.errors import remote_error_from
from topup_platform.staff import METADATA_KEY, StaffSigner
from topup_platform.timeutil import to_timestamp

MALLORY = common_pb2.Actor(kind=common_pb2.Actor.KIND_STAFF, id="mallory")


def _batch_request(note: str) -> orders_pb2.CreateVoucherBatchRequest:
    return orders_pb2.CreateVoucherBatchRequest(
        sku="CREDIT_10", count=2, expires_at=to_timestamp(datetime.now(UTC) + timedelta(days=30)), actor=MALLORY,
        note=note)


async def _drain(call: Any) -> None:
    if isinstance(call, grpc.aio.UnaryStreamCall):
        async for _ in call:
            pass
    else:
        await call


async def _refused(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status and documented code of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _drain(call)
    remote = remote_error_from(caught.value)
    return remote.status, remote.code


async def test_plaintext_to_a_service_is_refused(stack: Stack) -> None:
    for name in ("orders", "risk", "billing", "refunds"):
        async with grpc.aio.insecure_channel(stack.grpc(name)) as channel:
            status, _ = await _refused(health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                                 timeout=3))
        assert status is grpc.StatusCode.UNAVAILABLE, name
    async with grpc.aio.insecure_channel(stack.grpc("orders")) as channel:  # the attack of the report
        status, _ = await _refused(orders_pb2_grpc.OrdersServiceStub(channel).ListOrders(
            orders_pb2.ListOrdersRequest(limit=10), timeout=3))
    assert status is grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_of_another_ca_is_refused(stack: Stack) -> None:
    async with stack.channel("orders", "ops") as channel:  # ours answers
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    ca_key, ca_cert = issue_ca("not the platform's CA")
    key, cert = issue(ca_key, ca_cert, "gateway")  # even naming the gateway
    credentials = grpc.ssl_channel_credentials(
        root_certificates=stack.pki.ca_file.read_bytes(),
        private_key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
        certificate_chain=cert.public_bytes(serialization.Encoding.PEM))
    async with grpc.aio.secure_channel(stack.grpc("orders"), credentials) as channel:
        status, _ = await _refused(orders_pb2_grpc.OrdersServiceStub(channel).ListOrders(
            orders_pb2.ListOrdersRequest(limit=10), timeout=3))
    assert status is grpc.StatusCode.UNAVAILABLE


async def test_a_service_answers_only_the_callers_and_methods_it_expects(stack: Stack) -> None:
    # refunds may apply review decisions and list orders (its ledger check), not set a channel's prices
    async with stack.channel("orders", "refunds") as channel:
        status, code = await _refused(orders_pb2_grpc.OrdersServiceStub(channel).SetChannelPrices(
            orders_pb2.SetChannelPricesRequest(channel_id="demo")))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
    async with stack.channel("orders", "ops") as channel:  # operators' tools read, they do not mint vouchers
        status, code = await _refused(orders_pb2_grpc.OrdersServiceStub(channel).CreateVoucherBatch(
            _batch_request("ops")))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
        # what ops may call, it calls
        page = await orders_pb2_grpc.OrdersServiceStub(channel).ListOrders(orders_pb2.ListOrdersRequest(limit=1))
    assert len(page.orders) <= 1
    async with stack.channel("risk", "billing-adapter") as channel:  # the BOSS adapter never calls risk
        status, code = await _refused(risk_pb2_grpc.RiskServiceStub(channel).ListRuleSets(
            risk_pb2.ListRuleSetsRequest()))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")


async def test_a_forged_actor_never_becomes_the_audit_actor(stack: Stack) -> None:
    """Even a caller allowed to create voucher batches (the gateway's certificate) cannot name the member of
    staff: without the gateway's signed assertion nothing is created; with one, the audit names its staff."""
    note = f"forged-{time.time_ns()}"
    async with stack.channel("orders", "gateway") as channel:
        orders = orders_pb2_grpc.OrdersServiceStub(channel)
        status, code = await _refused(orders.CreateVoucherBatch(_batch_request(note)))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_IDENTITY_REQUIRED")
        cert, key, _ = stack.pki.read("gateway")
        signed = ((METADATA_KEY, StaffSigner(cert, key).assertion("alice", ["admin"])),)
        chunks = [c async for c in orders.CreateVoucherBatch(_batch_request(note + "-signed"), metadata=signed)]
    batch = next(c.batch for c in chunks if c.HasField("batch"))
    assert batch.created_by == "alice"
    async with stack.channel("orders", "refunds") as channel:  # a review decision, forged by its one caller
        status, code = await _refused(orders_pb2_grpc.OrdersServiceStub(channel).ApplyReviewDecision(
            orders_pb2.ApplyReviewDecisionRequest(order_id="01a20e6d-ee0d-7314-bfe3-cbe181f6a9ab",
                                                  decision="approve", decision_id="x", actor=MALLORY)))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_IDENTITY_REQUIRED")
    conn = await asyncpg.connect(stack.ports["database_url"])
    try:
        assert await conn.fetchval("SELECT count(*) FROM orders.voucher_batches WHERE note = $1", note) == 0
    finally:
        await conn.close()


async def test_through_the_gateway_the_audit_names_the_staff_token(stack: Stack) -> None:
    """The admin API end to end: the gateway signs the assertion, the order core audits the token's staff."""
    carol = f"carol-{time.time_ns()}"
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=30) as http:
        reply = await http.post("/admin/v1/voucher-batches", headers=staff_headers("admin", staff=carol), json={
            "sku": "CREDIT_10", "count": 1, "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()})
        assert reply.status_code == 201, reply.text
        batch = (await http.get(f"/admin/v1/voucher-batches/{reply.headers['x-batch-id']}",
                                headers=staff_headers("finance"))).json()
    assert batch["created_by"] == carol


def _listeners(port: int) -> set[str]:
    """The local addresses of the listening TCP sockets on `port` (from /proc/net/tcp and tcp6), IPv4-mapped
    IPv6 addresses written as IPv4."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            hex_address, _, hex_port = fields[1].partition(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(hex_address)  # 32-bit words in host (little-endian) order
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(packed)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            found.add(str(address))
    return found


async def test_internal_listeners_are_on_loopback_only_in_dev(stack: Stack) -> None:
    ports = {name: stack.ports[name] for name in ("risk", "orders", "billing", "refunds", "boss", "payments")}
    ports.update({f"metrics-{i}": stack.ports["metrics_base"] + i for i in range(4)})
    for name, port in ports.items():
        assert _listeners(port) == {"127.0.0.1"}, (name, port, _listeners(port))
