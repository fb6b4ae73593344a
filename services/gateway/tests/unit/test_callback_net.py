"""Callback addresses checked at intake and at connect time: the callback sender's own HTTP client, on real
sockets to local HTTP servers, with an injected resolver standing in for DNS (a name that resolves to a public
address at intake and to loopback when the callback is sent: DNS rebinding)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.callback_net import AddressGuard, NotifyUrlChecker, callback_guard
from gateway.callback_policy import AddressPolicy, parse_allowlist
from gateway.callbacks import CallbackService, Job
from gateway.channels import Channel, HmacKey
from gateway.errors import ApiError
from gateway.settings import GatewaySettings, UnsafeSettingError
from topup_platform.settings import Environment


class Server:
    """A local HTTP endpoint that answers POSTs with `status` (and `Location` for a redirect), counting them."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.hits.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.http.server_address[1])
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers() -> Iterator[Any]:
    made: list[Server] = []

    def make(status: int = 200, location: str | None = None) -> Server:
        made.append(Server(status, location))
        return made[-1]

    yield make
    for s in made:
        s.close()


class Dns:
    """What a name resolves to, changed at will (the attacker's DNS)."""

    def __init__(self, **records: list[str]) -> None:
        self.records = {name.replace("_", "."): addresses for name, addresses in records.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.records:
            raise OSError(f"{host}: Name or service not known")
        return self.records[host]


class Registry:
    async def get(self, channel_id: str) -> Channel:
        return Channel(channel_id, "Shop", True, callback_key=HmacKey("cb1", b"callback-secret", float("inf")),
                       callback_url_prefixes=("http://shop.example/",))


def sender(guard: AddressGuard) -> CallbackService:
    return CallbackService(GatewaySettings(callback_timeout_seconds=3), None, Registry(), "r1", guard)  # type: ignore[arg-type]


def job(url: str) -> Job:
    return Job(uuid.uuid4(), "o1", "shop", url, b"{}", 0, "schedule", uuid.uuid4())


async def test_a_name_rebound_to_loopback_after_intake_is_refused_at_connect_time(servers: Any) -> None:
    internal = servers()
    dns = Dns(shop_example=["93.184.216.34"])
    guard = AddressGuard(AddressPolicy(), dns)
    checker = NotifyUrlChecker(GatewaySettings(callback_dns_cache_seconds=0), guard)
    url = f"http://shop.example:{internal.port}/notify"
    await checker.check(url, (f"http://shop.example:{internal.port}/",))  # intake: a public address
    dns.records["shop.example"] = ["127.0.0.1"]  # rebound
    callbacks = sender(guard)
    try:
        outcome = await callbacks.attempt(job(url))
    finally:
        await callbacks.close()
    assert not outcome.delivered and outcome.http_status is None
    assert outcome.error is not None and "callback address refused" in outcome.error and "loopback" in outcome.error
    assert internal.hits == [], "nothing reached the internal address"
    assert dns.asked == ["shop.example", "shop.example"], "resolved at intake, and again to connect"


async def test_only_allowed_addresses_are_connected_to(servers: Any) -> None:
    sink = servers()
    # the test allowlist names the sink exactly: the same name's other (forbidden) address is never tried
    dns = Dns(shop_example=["10.0.0.1", "169.254.169.254", "127.0.0.1"])
    guard = AddressGuard(AddressPolicy(parse_allowlist([f"127.0.0.1:{sink.port}"])), dns)
    callbacks = sender(guard)
    try:
        delivered = await callbacks.attempt(job(f"http://shop.example:{sink.port}/n?x=1"))
        other_port = await callbacks.attempt(job(f"http://127.0.0.1:{sink.port + 1 if sink.port < 65535 else 1}/"))
    finally:
        await callbacks.close()
    assert (delivered.http_status, delivered.delivered) == (200, True)
    assert sink.hits == ["/n?x=1"]
    assert other_port.error is not None and "loopback" in other_port.error, "only the allowlisted port"


async def test_a_redirect_to_an_internal_address_is_not_followed(servers: Any) -> None:
    internal = servers()
    sink = servers(302, f"http://127.0.0.1:{internal.port}/admin/v1/channels")
    guard = AddressGuard(AddressPolicy(parse_allowlist([f"127.0.0.1:{sink.port}"])), Dns())
    callbacks = sender(guard)
    try:
        outcome = await callbacks.attempt(job(f"http://127.0.0.1:{sink.port}/notify"))
    finally:
        await callbacks.close()
    assert (outcome.http_status, outcome.delivered) == (302, False)
    assert sink.hits == ["/notify"] and internal.hits == []


async def test_intake_refuses_what_resolves_to_an_internal_address() -> None:
    dns = Dns(shop_example=["93.184.216.34"], evil_example=["93.184.216.34", "127.0.0.1"],
              meta_example=["::ffff:169.254.169.254"])
    checker = NotifyUrlChecker(GatewaySettings(), AddressGuard(AddressPolicy(), dns))
    prefixes = ("http://shop.example/", "http://evil.example/", "http://meta.example/", "http://gone.example/",
                "http://localhost:5432/", "http://db.internal/")

    async def code(url: str | None, registered: tuple[str, ...] = prefixes) -> str:
        try:
            await checker.check(url, registered)
        except ApiError as err:
            return err.spec.code
        return "OK"

    assert await code(None) == await code("") == "OK"
    assert await code("http://shop.example/n") == "OK"
    assert await code("http://evil.example/n") == "NOTIFY_URL_FORBIDDEN_ADDRESS", "any forbidden address refuses"
    assert await code("http://meta.example/n") == "NOTIFY_URL_FORBIDDEN_ADDRESS"
    assert await code("http://localhost:5432/") == "NOTIFY_URL_FORBIDDEN_ADDRESS"
    assert await code("http://db.internal/") == "NOTIFY_URL_FORBIDDEN_ADDRESS"
    assert await code("http://gone.example/n") == "OK", "not resolvable now: checked at connect time"
    assert await code("http://127.0.0.1:5432/") == "NOTIFY_URL_FORBIDDEN_ADDRESS", "a literal, before prefixes"
    assert await code("http://[::ffff:7f00:1]:8080/admin/v1/channels") == "NOTIFY_URL_FORBIDDEN_ADDRESS"
    assert await code("http://2130706433/") == "NOTIFY_URL_INVALID"
    assert await code("http://shop.example@127.0.0.1/") == "NOTIFY_URL_INVALID"
    assert await code("http://other.example/n") == "NOTIFY_URL_NOT_ALLOWED"
    assert await code("http://shop.example/n", ()) == "NOTIFY_URL_NO_PREFIXES"
    assert "other.example" not in dns.asked, "a URL outside the prefixes is not even resolved"


async def test_https_only_outside_development() -> None:
    prod = GatewaySettings(TOPUP_ENV=Environment.PROD, master_key="x" * 44)
    checker = NotifyUrlChecker(prod, AddressGuard(AddressPolicy(), Dns(shop_example=["93.184.216.34"])))
    with pytest.raises(ApiError) as err:
        await checker.check("http://shop.example/n", ("http://shop.example/",))
    assert err.value.spec.code == "NOTIFY_URL_INVALID"
    await checker.check("https://shop.example/n", ("https://shop.example/",))
    with pytest.raises(ApiError) as err:
        await checker.check_prefixes(["http://shop.example/"])
    assert err.value.spec.code == "CALLBACK_PREFIX_INVALID"


async def test_prefixes_follow_the_same_rules_at_registration() -> None:
    checker = NotifyUrlChecker(GatewaySettings(), AddressGuard(AddressPolicy(), Dns(shop_example=["93.184.216.34"],
                                                                                       lan_example=["192.168.1.9"])))
    await checker.check_prefixes(["http://shop.example/cb", "https://gone.example/"])
    for bad in ("http://127.0.0.1:5432/", "http://lan.example/", "http://user@shop.example/", "http://0x7f.1/",
                "http://shop.example/?q=1", "http://localhost/"):
        with pytest.raises(ApiError) as err:
            await checker.check_prefixes(["http://shop.example/", bad])
        assert err.value.spec.code == "CALLBACK_PREFIX_INVALID", bad
        assert err.value.details["prefix"] == bad


def test_the_test_allowlist_is_off_by_default_and_refused_in_production() -> None:
    assert GatewaySettings().callback_test_allow_addresses == ()
    assert callback_guard(GatewaySettings()).policy.allow == frozenset()
    with pytest.raises(ValueError, match="address:port"):
        callback_guard(GatewaySettings(callback_test_allow_addresses=("localhost:80",)))
    secrets = {"master_key": "m" * 44, "admin_jwt_secret": "s" * 40}
    GatewaySettings(TOPUP_ENV=Environment.PROD, **secrets).check_production()
    with pytest.raises(UnsafeSettingError):
        GatewaySettings(TOPUP_ENV=Environment.PROD, callback_test_allow_addresses=("127.0.0.1:1",),
                        **secrets).check_production()
    with pytest.raises(UnsafeSettingError):
        GatewaySettings(TOPUP_ENV=Environment.PROD, callback_allow_http=True, **secrets).check_production()
    assert GatewaySettings().callback_http_allowed
    assert not GatewaySettings(TOPUP_ENV=Environment.TEST).callback_http_allowed


async def test_no_proxy_from_the_environment_stands_between(servers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would connect on our behalf to an address we never checked: the callback client uses none."""
    sink = servers()
    proxy = servers()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
    guard = AddressGuard(AddressPolicy(parse_allowlist([f"127.0.0.1:{sink.port}"])), Dns())
    callbacks = sender(guard)
    try:
        outcome = await callbacks.attempt(job(f"http://127.0.0.1:{sink.port}/n"))
    finally:
        await callbacks.close()
    assert outcome.delivered and sink.hits == ["/n"] and proxy.hits == []
