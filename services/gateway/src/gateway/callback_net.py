"""Callback addresses checked where it counts: when a notify_url (or a channel's callback prefix) is taken in,
and again at every connection the callback sender makes.

* **At intake** (`NotifyUrlChecker`): the rules of `callback_policy` (grammar, https, prefixes as origins), then
  the host resolved: a URL whose host is, or resolves to, any forbidden address is refused
  (`NOTIFY_URL_FORBIDDEN_ADDRESS`). A name that does not resolve (or not within
  `GATEWAY_CALLBACK_DNS_TIMEOUT_SECONDS`) is let through: the order is not refused for a DNS hiccup, and the
  connection-time check below still guards every attempt.
* **At connect time** (`GuardedTransport`): the callback sender's httpx client connects through an httpcore
  network backend (httpcore's extension point for how connections are made) that resolves the host itself,
  drops every forbidden address, and connects to an address it checked, so the address checked is the
  address connected to: a name that resolved to a public address at intake and to 127.0.0.1 now (DNS
  rebinding) is refused. TLS still verifies the certificate against the URL's host name (httpcore passes the
  origin's host as SNI). Redirects are never followed (the client's `follow_redirects=False`) and no proxy
  from the environment is used (`trust_env=False`), so nothing else opens a connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import typing
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from gateway.callback_policy import (
    AddressPolicy,
    CallbackUrl,
    IPAddress,
    UrlRefused,
    admitted,
    local_name,
    parse_allowlist,
    parse_callback_url,
    parse_prefix,
)
from gateway.errors import ApiError
from gateway.settings import GatewaySettings

#: host and port -> the addresses it resolves to (as strings, as getaddrinfo gives them)
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard:
    """Resolves a callback host and judges each address by the policy."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver

    def judge(self, address: str, port: int) -> tuple[IPAddress | None, str | None]:
        """(the address, why it is refused or None)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None, "not an IP address"
        return ip, self.policy.refusal(ip, port)

    async def resolve(self, host: str, port: int) -> tuple[list[IPAddress], list[str]]:
        """(the allowed addresses, the refusals `address: why`) of what the host resolves to. Resolution errors
        propagate (OSError)."""
        if local_name(host):
            return [], [f"{host}: a local name"]
        try:
            addresses = [str(ipaddress.ip_address(host))]  # an address already: nothing to resolve
        except ValueError:
            addresses = await self.resolver(host, port)
        allowed: list[IPAddress] = []
        refused: list[str] = []
        for address in addresses:
            ip, why = self.judge(address, port)
            if ip is not None and why is None:
                allowed.append(ip)
            else:
                refused.append(f"{address}: {why}")
        return allowed, refused


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the guard allows (the check and the connection use the same address)."""

    def __init__(self, guard: AddressGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's API)
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                allowed, refused = await self.guard.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from None
        if not allowed:
            raise httpcore.ConnectError(f"callback address refused: {'; '.join(refused) or host + ': no address'}")
        failure: Exception | None = None
        for ip in allowed:
            try:
                return await self.inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's API)
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("callbacks never go to a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, over a connection pool whose network backend is the guard's."""

    def __init__(self, guard: AddressGuard, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        # httpx has no parameter for httpcore's network backend yet (encode/httpx#3749): the pool it builds,
        # with ours
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )


def callback_guard(settings: GatewaySettings, resolver: Resolver = system_resolver) -> AddressGuard:
    return AddressGuard(AddressPolicy(parse_allowlist(settings.callback_test_allow_addresses)), resolver)


class NotifyUrlChecker:
    """The intake checks of a notify_url, and of a channel's callback URL prefixes (admin API)."""

    def __init__(self, settings: GatewaySettings, guard: AddressGuard) -> None:
        self.guard = guard
        self.allow_http = settings.callback_http_allowed
        self.dns_timeout = settings.callback_dns_timeout_seconds
        self.cache_seconds = settings.callback_dns_cache_seconds
        #: (host, port) -> (until, refusals): an intake verdict, kept briefly (connect time checks anew)
        self._verdicts: dict[tuple[str, int], tuple[float, list[str]]] = {}

    async def check(self, notify_url: str | None, prefixes: tuple[str, ...]) -> None:
        """Raises the catalogue's error if this channel may not be called back at `notify_url`."""
        if not notify_url:
            return
        try:
            url = parse_callback_url(notify_url, allow_http=self.allow_http)
        except UrlRefused as err:
            raise ApiError(err.code, details={"problem": err.problem}) from None
        self._refuse_literal(url, "NOTIFY_URL_FORBIDDEN_ADDRESS")
        if not prefixes:
            raise ApiError("NOTIFY_URL_NO_PREFIXES")
        if not admitted(url, prefixes):
            raise ApiError("NOTIFY_URL_NOT_ALLOWED", details={"allowed_prefixes": list(prefixes)})
        if refused := await self._resolved_refusals(url):
            raise ApiError("NOTIFY_URL_FORBIDDEN_ADDRESS", details={"host": url.host, "refused": refused})

    async def check_prefixes(self, prefixes: Iterable[str]) -> None:
        """Raises CALLBACK_PREFIX_INVALID for the first prefix the rules refuse (grammar, https, addresses)."""
        for prefix in prefixes:
            try:
                url = parse_prefix(prefix, allow_http=self.allow_http)
            except UrlRefused as err:
                raise ApiError("CALLBACK_PREFIX_INVALID", details={"prefix": prefix, "problem": err.problem}) from None
            self._refuse_literal(url, "CALLBACK_PREFIX_INVALID", prefix)
            if refused := await self._resolved_refusals(url):
                raise ApiError("CALLBACK_PREFIX_INVALID", details={"prefix": prefix, "refused": refused})

    def _refuse_literal(self, url: CallbackUrl, code: str, prefix: str | None = None) -> None:
        """An IP address or a local name: refused before anything else (no lookup needed)."""
        why = "a local name" if local_name(url.host) else (
            self.guard.policy.refusal(url.ip, url.port) if url.ip is not None else None)
        if why:
            raise ApiError(code, details={"host": url.host, "refused": [f"{url.host}: {why}"],
                                          **({"prefix": prefix} if prefix else {})})

    async def _resolved_refusals(self, url: CallbackUrl) -> list[str]:
        if url.ip is not None:
            return []
        key = (url.host, url.port)
        now = time.monotonic()
        cached = self._verdicts.get(key)
        if cached and cached[0] > now:
            return cached[1]
        try:
            async with asyncio.timeout(self.dns_timeout):
                _, refused = await self.guard.resolve(url.host, url.port)
        except (OSError, TimeoutError):
            return []  # not resolvable now: the connection-time check guards each attempt
        if len(self._verdicts) >= 4096:
            self._verdicts.clear()
        self._verdicts[key] = (now + self.cache_seconds, refused)
        return refused

