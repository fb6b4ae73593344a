"""Mutual TLS, the access policy and staff assertions, on a real gRPC server (the BillingService's interface,
with a servicer that answers who asked): plaintext and foreign certificates are refused, a verified peer calls
only what its entry lists, and the staff identity comes from the gateway's signed assertion, never from the
request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization

from topup.billing.v1 import billing_pb2, billing_pb2_grpc
from topup_devstack.certs import DevPki, issue, issue_ca
from topup_devstack.infra import free_port
from topup_platform import staff
from topup_platform.access import AccessPolicy
from topup_platform.errors import remote_error_from
from topup_platform.grpc_client import channel
from topup_platform.grpc_server import GrpcServer
from topup_platform.settings import InsecureTransportError, PlatformSettings

POLICY = AccessPolicy.of(billing_pb2.DESCRIPTOR.services_by_name["BillingService"], {
    "gateway": ["GetBalance"],
    "refunds": ["StopFulfilment"],
})


class Echo(billing_pb2_grpc.BillingServiceServicer):
    """Answers with the identity the platform gives the call (in the fields of a Fulfilment)."""

    async def GetBalance(self, request: Any, context: grpc.aio.ServicerContext) -> billing_pb2.Balance:
        return billing_pb2.Balance(balance_fen=1)

    async def StopFulfilment(self, request: Any, context: grpc.aio.ServicerContext) -> billing_pb2.Fulfilment:
        who = staff.current()
        return billing_pb2.Fulfilment(order_id=who.id, state=",".join(sorted(who.roles)))


def settings(pki: DevPki | None, identity: str = "billing-adapter", **extra: Any) -> PlatformSettings:
    """Settings as the environment gives them (TOPUP_TLS_*, TOPUP_ENV, TOPUP_BIND_HOST)."""
    files = {} if pki is None else pki.env(identity)
    return PlatformSettings(**{"TOPUP_ENV": "dev", **files, **extra})


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return DevPki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def server(pki: DevPki) -> AsyncIterator[str]:
    port = free_port()
    s = GrpcServer(port=port, settings=settings(pki), policy=POLICY)
    s.add(billing_pb2_grpc.add_BillingServiceServicer_to_server, Echo(), "topup.billing.v1.BillingService")
    await s.start()
    yield f"127.0.0.1:{port}"
    await s.stop(0)


def client(pki: DevPki, target: str, identity: str) -> grpc.aio.Channel:
    return channel(target, settings(pki, identity))


async def failure(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    remote = remote_error_from(caught.value)
    return remote.status, remote.code


ALICE = billing_pb2.StopFulfilmentRequest(order_id="x", actor="staff:mallory")


async def test_a_caller_with_a_certificate_calls_what_its_entry_lists(pki: DevPki, server: str) -> None:
    async with client(pki, server, "gateway") as ch:
        reply = await billing_pb2_grpc.BillingServiceStub(ch).GetBalance(billing_pb2.GetBalanceRequest())
    assert reply.balance_fen == 1


async def test_plaintext_is_refused(server: str) -> None:
    async with grpc.aio.insecure_channel(server) as ch:
        status, _ = await failure(billing_pb2_grpc.BillingServiceStub(ch).GetBalance(billing_pb2.GetBalanceRequest(),
                                                                                       timeout=3))
    assert status is grpc.StatusCode.UNAVAILABLE


async def test_a_certificate_of_another_ca_is_refused(pki: DevPki, server: str) -> None:
    ca_key, ca_cert = issue_ca("someone else's CA")
    key, cert = issue(ca_key, ca_cert, "gateway")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki.ca_file.read_bytes(),  # it trusts our server: only its own certificate is foreign
        private_key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
        certificate_chain=cert.public_bytes(serialization.Encoding.PEM))
    async with grpc.aio.secure_channel(server, credentials) as ch:
        status, _ = await failure(billing_pb2_grpc.BillingServiceStub(ch).GetBalance(billing_pb2.GetBalanceRequest(),
                                                                                       timeout=3))
    assert status is grpc.StatusCode.UNAVAILABLE


async def test_a_valid_certificate_calling_a_method_it_may_not_is_denied(pki: DevPki, server: str) -> None:
    async with client(pki, server, "refunds") as ch:
        stub = billing_pb2_grpc.BillingServiceStub(ch)
        status, code = await failure(stub.GetBalance(billing_pb2.GetBalanceRequest()))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")
    async with client(pki, server, "ops") as ch:  # a caller the table does not name at all
        status, code = await failure(billing_pb2_grpc.BillingServiceStub(ch).StopFulfilment(ALICE))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED")


async def test_health_answers_any_verified_peer(pki: DevPki, server: str) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with client(pki, server, "ops") as ch:
        reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_staff_identity_is_the_gateways_signed_assertion_not_the_request_field(
        pki: DevPki, server: str) -> None:
    gateway_cert, gateway_key, _ = pki.read("gateway")
    async with client(pki, server, "refunds") as ch:
        stub = billing_pb2_grpc.BillingServiceStub(ch)
        # no assertion: the request's actor field names nobody
        status, code = await failure(stub.StopFulfilment(ALICE))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_IDENTITY_REQUIRED")
        # the gateway's assertion, forwarded by refunds (as the desk does): alice, whatever the field says
        with staff.act_as(staff.StaffSigner(gateway_cert, gateway_key).assertion("alice", ["reviewer"])):
            done = await stub.StopFulfilment(ALICE)
        assert (done.order_id, done.state) == ("alice", "reviewer")
        # an assertion signed by anyone but the gateway (here refunds' own valid certificate) is refused
        refunds_cert, refunds_key, _ = pki.read("refunds")
        with staff.act_as(staff.StaffSigner(refunds_cert, refunds_key).assertion("mallory", ["admin"])):
            status, code = await failure(stub.StopFulfilment(ALICE))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_ASSERTION_INVALID")
        # a gateway certificate of another CA is refused too
        ca_key, ca_cert = issue_ca("forged")
        key, cert = issue(ca_key, ca_cert, "gateway")
        forged = staff.StaffSigner(cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        with staff.act_as(forged.assertion("mallory", ["admin"])):
            status, code = await failure(stub.StopFulfilment(ALICE))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_ASSERTION_INVALID")
        # an expired one too
        with staff.act_as(staff.StaffSigner(gateway_cert, gateway_key, ttl_seconds=-60).assertion("alice", [])):
            status, code = await failure(stub.StopFulfilment(ALICE))
        assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_ASSERTION_INVALID")


async def test_an_empty_staff_id_is_refused(pki: DevPki, server: str) -> None:
    cert, key, _ = pki.read("gateway")
    async with client(pki, server, "refunds") as ch:
        with staff.act_as(staff.StaffSigner(cert, key).assertion("", ["admin"])):
            status, code = await failure(billing_pb2_grpc.BillingServiceStub(ch).StopFulfilment(ALICE))
    assert (status, code) == (grpc.StatusCode.PERMISSION_DENIED, "STAFF_ASSERTION_INVALID")


def test_tls_is_required_outside_dev(pki: DevPki) -> None:
    with pytest.raises(InsecureTransportError):
        settings(None, TOPUP_ENV="prod").require_tls()
    settings(pki, TOPUP_ENV="prod").require_tls()
    settings(None).require_tls()  # dev may run plaintext (make run does not: it issues certificates)
    with pytest.raises(ValueError, match="go together"):
        settings(None, TOPUP_TLS_CERT_FILE=str(pki.cert_file("orders")))


async def test_a_server_outside_dev_without_certificates_does_not_start() -> None:
    with pytest.raises(InsecureTransportError):
        GrpcServer(port=free_port(), settings=settings(None, TOPUP_ENV="prod"), policy=POLICY)
    with pytest.raises(InsecureTransportError):
        channel("127.0.0.1:1", settings(None, TOPUP_ENV="prod"))


def test_internal_listeners_bind_loopback_in_dev_and_per_setting_elsewhere() -> None:
    assert settings(None).listen_host == "127.0.0.1"
    assert settings(None, TOPUP_ENV="prod").listen_host == "0.0.0.0"
    assert settings(None, TOPUP_ENV="prod", TOPUP_BIND_HOST="10.0.0.5").listen_host == "10.0.0.5"


def test_a_policy_naming_a_method_the_service_lacks_fails_at_start() -> None:
    with pytest.raises(ValueError, match="no method"):
        AccessPolicy.of(billing_pb2.DESCRIPTOR.services_by_name["BillingService"], {"gateway": ["GetBalanse"]})


def test_dev_certificates_name_their_identity(pki: DevPki) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pki.cert_file("orders").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "orders"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"orders", "localhost"} <= set(sans.get_values_for_type(x509.DNSName))
    assert pki.key_file("orders").stat().st_mode & 0o077 == 0


async def test_the_health_port_answers_probes_in_plaintext_and_nothing_else(pki: DevPki) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    port, health_port = free_port(), free_port()
    s = GrpcServer(port=port, settings=settings(pki, TOPUP_GRPC_HEALTH_PORT=str(health_port)), policy=POLICY)
    s.add(billing_pb2_grpc.add_BillingServiceServicer_to_server, Echo(), "topup.billing.v1.BillingService")
    await s.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=3)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            status, _ = await failure(billing_pb2_grpc.BillingServiceStub(ch).GetBalance(
                billing_pb2.GetBalanceRequest(), timeout=3))
        assert status is grpc.StatusCode.UNIMPLEMENTED
    finally:
        await s.stop(0)
