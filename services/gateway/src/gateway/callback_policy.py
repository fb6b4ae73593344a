"""Where callbacks may go: the rules a `notify_url` (and a channel's registered callback URL prefix) must meet,
and the addresses the gateway never calls. Pure: no I/O (resolution and connecting are in `callback_net`).

A channel chooses its notify_url, and the gateway calls it from inside the platform: without these rules a
channel (or anyone holding its key) could make the gateway POST to PostgreSQL, to the admin API, to the cloud's
metadata service. So:

* **A strict grammar.** `http(s)://host[:port][/path][?query]` in visible ASCII only (an IDN host is written in
  its `xn--` form); no user info (`user@host`), no fragment, no backslash, no percent-encoding in the host, no dot
  segments in the path; the host is a DNS name of at least two labels (no trailing dot) or an IP address in its
  canonical spelling (`127.0.0.1`, `[::1]`: never `2130706433`, `0x7f.1`, `127.1` or `0177.0.0.1`, which
  resolvers read as loopback). The URL must also parse to the same scheme, host and port with httpx, the client
  that sends it (no parser differential).
* **https only** outside dev (`GATEWAY_CALLBACK_ALLOW_HTTP`; dev allows http).
* **Prefixes as origins.** A notify_url is under a registered prefix when scheme, host and port are equal and the
  path continues the prefix's path on a segment boundary (`https://shop.example:1` never admits
  `https://shop.example:18555/`; `/cb` admits `/cb` and `/cb/x`, never `/cbx`).
* **Forbidden addresses**, in every mode: loopback, unspecified, private (RFC 1918, fc00::/7), link-local
  (169.254/16 with the metadata address, fe80::/10), shared (CGNAT 100.64/10), multicast, reserved and
  documentation ranges, and the IPv4-mapped and NAT64 forms of these; names that are local by definition
  (`localhost`, `*.local`, `*.internal`...). Only the test-only allowlist (exact address and port) lets one
  through, and production refuses to start with it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: the code a refused URL is answered with (the gateway's error catalogue)
INVALID = "NOTIFY_URL_INVALID"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^#]*)")
_HOST_PORT = re.compile(r"([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?")
_IPV6_PORT = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: a last label that makes a resolver read the host as an IPv4 address (WHATWG "ends in a number")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_DOT_SEGMENT = re.compile(r"(?:\.|%2e){1,2}", re.IGNORECASE)
_LOCAL_NAMES = ("localhost",)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

_V4 = [(ipaddress.IPv4Network(net), why) for net, why in (
    ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local (cloud metadata)"), ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "documentation"), ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"), ("198.18.0.0/15", "reserved"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
)]
_V6 = [(ipaddress.IPv6Network(net), why) for net, why in (
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "reserved (IPv4-compatible)"),
    ("64:ff9b:1::/48", "reserved (local NAT64)"), ("100::/64", "reserved"), ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"), ("2002::/16", "reserved (6to4)"), ("3fff::/20", "documentation"),
    ("fc00::/7", "private"), ("fe80::/10", "link-local"), ("fec0::/10", "reserved (site-local)"),
    ("ff00::/8", "multicast"),
)]
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UrlRefused(ValueError):
    """A URL the rules refuse: `code` is the catalogue's code, `problem` says why (for the caller's details)."""

    def __init__(self, code: str, problem: str) -> None:
        super().__init__(problem)
        self.code = code
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CallbackUrl:
    scheme: str
    #: a lower-case DNS name, or an IP address in its canonical form (IPv6 without brackets)
    host: str
    #: the port connected to (the scheme's default when the URL names none)
    port: int
    #: the raw (percent-encoded) path, at least "/"
    path: str
    query: str
    #: the host as an address, when it is one
    ip: IPAddress | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def parse_callback_url(url: str, *, allow_http: bool) -> CallbackUrl:
    """The URL if it meets the grammar (and the scheme rule), else `UrlRefused`. Addresses are not checked here
    beyond a literal one (see `literal_refusal`)."""
    if not re.fullmatch(r"[!-~]+", url) or "\\" in url:
        raise UrlRefused(INVALID, "only visible ASCII characters, and no backslash (write an IDN host as xn--)")
    if "#" in url:
        raise UrlRefused(INVALID, "a fragment (#) is not allowed")
    m = _URL.fullmatch(url)
    if m is None:
        raise UrlRefused(INVALID, "not an absolute http(s) URL")
    scheme, authority, rest = m.group(1).lower(), m.group(2), m.group(3)
    if scheme not in _DEFAULT_PORTS:
        raise UrlRefused(INVALID, "the scheme must be https (or http in development)")
    if scheme == "http" and not allow_http:
        raise UrlRefused(INVALID, "the scheme must be https")
    if "@" in authority:
        raise UrlRefused(INVALID, "user information (user@host) is not allowed")
    host, port_text, ip = _host(authority)
    port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise UrlRefused(INVALID, "the port must be 1 to 65535")
    path, _, query = rest.partition("?")
    path = path or "/"
    if not path.startswith("/"):
        raise UrlRefused(INVALID, "not an absolute http(s) URL")
    if any(_DOT_SEGMENT.fullmatch(segment) for segment in path.split("/")):
        raise UrlRefused(INVALID, "the path must not have . or .. segments")
    _same_for_the_sender(url, scheme, host, port, ip)
    return CallbackUrl(scheme, host, port, path, query, ip)


def _host(authority: str) -> tuple[str, str | None, IPAddress | None]:
    if authority.startswith("["):
        m = _IPV6_PORT.fullmatch(authority)
        if m is None:
            raise UrlRefused(INVALID, "the host is not a DNS name or an IP address")
        try:
            v6 = ipaddress.IPv6Address(m.group(1))
        except ValueError:
            raise UrlRefused(INVALID, "the host is not a valid IPv6 address") from None
        return str(v6), m.group(2), v6
    m = _HOST_PORT.fullmatch(authority)
    if m is None:
        raise UrlRefused(INVALID, "the host is not a DNS name or an IP address")
    host = m.group(1).lower()
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            v4 = ipaddress.IPv4Address(host)  # strict: four decimal parts, no leading zeros
        except ValueError:
            raise UrlRefused(INVALID, "an IPv4 address must be written as four decimal numbers") from None
        return str(v4), m.group(2), v4
    if host in _LOCAL_NAMES:
        return host, m.group(2), None  # well-formed; refused as a forbidden address
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlRefused(INVALID, "the host must be a fully qualified DNS name (no trailing dot) or an IP address")
    return host, m.group(2), None


def _same_for_the_sender(url: str, scheme: str, host: str, port: int, ip: IPAddress | None) -> None:
    """httpx sends the callback: it must read the same scheme, host and port from this URL as we did."""
    try:
        sent = httpx.URL(url)
        raw_host = sent.raw_host.decode("ascii")
        sent_host: str | IPAddress = raw_host if ip is None else ipaddress.ip_address(raw_host)
    except (httpx.InvalidURL, ValueError):
        raise UrlRefused(INVALID, "not a valid URL") from None
    if (sent.scheme, sent_host, sent.port or _DEFAULT_PORTS[scheme]) != (scheme, ip or host, port):
        raise UrlRefused(INVALID, "not a valid URL")


def parse_prefix(prefix: str, *, allow_http: bool) -> CallbackUrl:
    """A channel's registered callback URL prefix: a callback URL without a query."""
    parsed = parse_callback_url(prefix, allow_http=allow_http)
    if "?" in prefix:
        raise UrlRefused(INVALID, "a prefix has no query")
    return parsed


@lru_cache(maxsize=4096)
def _stored_prefix(prefix: str) -> CallbackUrl | None:
    try:
        return parse_prefix(prefix, allow_http=True)
    except UrlRefused:
        return None  # stored before these rules: it admits nothing


def under_prefix(url: CallbackUrl, prefix: CallbackUrl) -> bool:
    """Same origin (scheme, host, port), and the path continues the prefix's path on a segment boundary."""
    if url.origin != prefix.origin:
        return False
    if prefix.path.endswith("/"):
        return url.path.startswith(prefix.path)
    return url.path == prefix.path or url.path.startswith(prefix.path + "/")


def admitted(url: CallbackUrl, prefixes: Iterable[str]) -> bool:
    """Under one of these registered prefixes (a stored prefix the rules refuse admits nothing)."""
    return any(p is not None and under_prefix(url, p) for p in map(_stored_prefix, prefixes))


def local_name(host: str) -> bool:
    """A name that is local by definition (it resolves, if at all, to this machine or a private network)."""
    return host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES)


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why callbacks never go to this address (None: a public address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _mapped(forbidden_reason(ip.ipv4_mapped))
        if ip in _NAT64:
            return _mapped(forbidden_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        reason = next((why for network, why in _V6 if ip in network), None)
    else:
        reason = next((why for network, why in _V4 if ip in network), None)
    if reason is not None:
        return reason
    if ip.is_multicast:
        return "multicast"
    if not ip.is_global:
        return "not a public address"
    return None


def _mapped(reason: str | None) -> str | None:
    return None if reason is None else f"{reason} (IPv4 in IPv6)"


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The forbidden addresses, less the test-only allowlist of exact (address, port) pairs."""

    allow: frozenset[tuple[IPAddress, int]] = frozenset()

    def refusal(self, ip: IPAddress, port: int) -> str | None:
        reason = forbidden_reason(ip)
        if reason is None or (ip, port) in self.allow:
            return None
        return reason


def parse_allowlist(entries: Iterable[str]) -> frozenset[tuple[IPAddress, int]]:
    """`127.0.0.1:40001`, `[::1]:40001`: an exact address and port each (a ValueError otherwise)."""
    allowed: set[tuple[IPAddress, int]] = set()
    for entry in entries:
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})|([0-9.]+):([0-9]{1,5})", entry)
        if m is None:
            raise ValueError(f"not an address:port: {entry!r}")
        address, port = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"not a port: {entry!r}")
        allowed.add((ipaddress.ip_address(address), int(port)))
    return frozenset(allowed)
