"""Where callbacks may go (the pure rules): the notify_url grammar, prefixes compared as origins, and the
addresses never called, in every spelling."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.callback_policy import (
    AddressPolicy,
    UrlRefused,
    admitted,
    forbidden_reason,
    local_name,
    parse_allowlist,
    parse_callback_url,
    parse_prefix,
    under_prefix,
)

FORBIDDEN_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
                "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
                "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"]
FORBIDDEN_V6 = ["::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32", "fec0::/10", "100::/64"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2a00:1450:4001:80b::200e",
          "64:ff9b::808:808", "::ffff:8.8.8.8"]


def _in(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    return st.integers(0, net.num_addresses - 1).map(lambda i: net[i])


def url(text: str, allow_http: bool = True) -> str:
    parsed = parse_callback_url(text, allow_http=allow_http)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}{parsed.path}"


def refused(text: str, allow_http: bool = True) -> str:
    with pytest.raises(UrlRefused) as err:
        parse_callback_url(text, allow_http=allow_http)
    return err.value.code


# --- addresses -------------------------------------------------------------------------------------------

@given(st.one_of(*[_in(n) for n in FORBIDDEN_V4]))
def test_every_address_of_a_forbidden_ipv4_network_is_refused(ip: ipaddress.IPv4Address) -> None:
    assert forbidden_reason(ip) is not None
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    assert forbidden_reason(mapped) is not None, "the IPv4-mapped form too"
    assert forbidden_reason(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) + int(ip))) is not None, \
        "and the NAT64 form"


@given(st.one_of(*[_in(n) for n in FORBIDDEN_V6]))
def test_every_address_of_a_forbidden_ipv6_network_is_refused(ip: ipaddress.IPv6Address) -> None:
    assert forbidden_reason(ip) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("169.254.169.254", "link-local (cloud metadata)"), ("0.0.0.0", "unspecified"),
    ("::", "unspecified"), ("::1", "loopback"), ("100.64.0.1", "shared (CGNAT)"),
    ("::ffff:127.0.0.1", "loopback (IPv4 in IPv6)"),
    ("::ffff:169.254.169.254", "link-local (cloud metadata) (IPv4 in IPv6)"),
    ("fd00::1", "private"), ("fe80::1", "link-local"), ("239.255.255.250", "multicast"),
])
def test_the_reason_is_named(address: str, why: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == why


def test_the_test_allowlist_lets_through_exactly_one_address_and_port() -> None:
    policy = AddressPolicy(parse_allowlist(["127.0.0.1:40001", "[::1]:40002"]))
    loopback, v6 = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")
    assert policy.refusal(loopback, 40001) is None
    assert policy.refusal(loopback, 40002) == "loopback"
    assert policy.refusal(ipaddress.ip_address("127.0.0.2"), 40001) == "loopback"
    assert policy.refusal(v6, 40002) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:127.0.0.1"), 40001) is not None
    assert AddressPolicy().refusal(loopback, 40001) == "loopback"
    for bad in ("127.0.0.1", "localhost:1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80"):
        with pytest.raises(ValueError, match=r"not an address:port|not a port"):
            parse_allowlist([bad])


# --- the URL grammar -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "http://2130706433/", "http://0x7f.1/", "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/",
    "http://127.0.0.01/", "http://017700000001/",  # IPv4 spellings resolvers read as 127.0.0.1
    "http://127.0.0.1./", "http://shop.example./n", "http://localhost./",  # trailing dots
    "http://user@shop.example/", "http://shop.example@127.0.0.1/", "http://:@shop.example/",
    "http://shop.example\\@127.0.0.1/", "http://shop.example%40127.0.0.1/",  # user info, however written
    "http://shop.example/#@127.0.0.1", "http://127.0.0.1:5432#@shop.example/",  # fragments
    "http://bücher.example/", "http://ⅼocalhost/", "http://shop.example/ä",  # non-ASCII (IDN: write xn--)
    "http://%6c%6fcalhost/", "http://[fe80::1%25eth0]/", "http://shop.example:/", "http://shop.example:0/",
    "http://shop.example:65536/", "ftp://shop.example/", "http:/shop.example/", "http:///x", "//shop.example/",
    "http://shop/", "http://shop_1.example/", "http://-shop.example/", "http://shop.example/a/../admin",
    "http://shop.example/a/%2E%2E/admin", "http://shop.example /", "http://shop.example/\n",
])
def test_malformed_or_ambiguous_urls_are_refused(text: str) -> None:
    assert refused(text) == "NOTIFY_URL_INVALID"


def test_https_only_unless_development_allows_http() -> None:
    assert refused("http://shop.example/n", allow_http=False) == "NOTIFY_URL_INVALID"
    assert url("https://shop.example/n", allow_http=False) == "https://shop.example:443/n"
    assert url("http://shop.example/n") == "http://shop.example:80/n"


@pytest.mark.parametrize(("text", "normal"), [
    ("https://Shop.Example/notify?x=1", "https://shop.example:443/notify"),
    ("https://shop.example:8443", "https://shop.example:8443/"),
    ("https://xn--bcher-kva.example/n", "https://xn--bcher-kva.example:443/n"),
    ("http://[::FFFF:127.0.0.1]:80/x", "http://::ffff:7f00:1:80/x"),
    ("http://127.0.0.1:5432/", "http://127.0.0.1:5432/"),
    ("http://localhost:5432/", "http://localhost:5432/"),
])
def test_well_formed_urls_parse_to_their_origin(text: str, normal: str) -> None:
    assert url(text) == normal


def test_literal_and_local_hosts_are_known_before_any_lookup() -> None:
    assert parse_callback_url("http://[::ffff:127.0.0.1]/", allow_http=True).ip == ipaddress.ip_address("::ffff:7f00:1")
    assert parse_callback_url("https://shop.example/", allow_http=True).ip is None
    assert local_name("localhost") and local_name("db.internal") and local_name("printer.local")
    assert not local_name("shop.example")


# --- prefixes as origins ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("prefix", "text", "under"), [
    ("http://host.example:1", "http://host.example:18555/", False),  # startswith would admit it
    ("http://host.example:1/", "http://host.example:1/n", True),
    ("https://shop.example", "https://shop.example.evil.example/n", False),
    ("https://shop.example/", "https://shop.example@evil.example/", None),  # refused before any comparison
    ("https://shop.example/", "http://shop.example/n", False),  # another scheme
    ("https://shop.example/", "https://shop.example:443/n", True),  # the default port, written out
    ("https://shop.example:8443/", "https://shop.example/n", False),
    ("https://shop.example/cb", "https://shop.example/cb", True),
    ("https://shop.example/cb", "https://shop.example/cb/x?y=1", True),
    ("https://shop.example/cb", "https://shop.example/cbx", False),
    ("https://shop.example/cb/", "https://shop.example/cb/x", True),
    ("https://shop.example/cb/", "https://shop.example/cb", False),
    ("https://Shop.Example/", "https://shop.example/n", True),
])
def test_a_prefix_admits_its_origin_and_path_only(prefix: str, text: str, under: bool | None) -> None:
    if under is None:
        assert refused(text) == "NOTIFY_URL_INVALID"
        return
    parsed = parse_callback_url(text, allow_http=True)
    assert under_prefix(parsed, parse_prefix(prefix, allow_http=True)) is under
    assert admitted(parsed, [prefix]) is under


def test_a_stored_prefix_the_rules_refuse_admits_nothing() -> None:
    parsed = parse_callback_url("http://host.example/n", allow_http=True)
    assert not admitted(parsed, ["http://user@host.example/", "http://host.example/?q=1"])
    assert not admitted(parsed, [])
    with pytest.raises(UrlRefused):
        parse_prefix("https://shop.example/?q=1", allow_http=True)


@given(st.integers(1, 65535), st.integers(1, 65535))
def test_ports_are_compared_as_numbers(registered: int, used: int) -> None:
    parsed = parse_callback_url(f"http://host.example:{used}/n", allow_http=True)
    assert admitted(parsed, [f"http://host.example:{registered}"]) is (registered == used)


@given(st.one_of(st.text(max_size=80), st.from_regex(r"https?://[^\s]{1,60}", fullmatch=True)))
def test_any_text_is_parsed_or_refused_never_an_error(text: str) -> None:
    try:
        parsed = parse_callback_url(text, allow_http=True)
    except UrlRefused as err:
        code = err.code
        assert code == "NOTIFY_URL_INVALID"
        return
    assert parsed.scheme in ("http", "https") and parsed.host and 1 <= parsed.port <= 65535
    assert parsed.ip is not None or (local_name(parsed.host) or "." in parsed.host)
