"""/docs and /redoc work with the network cut off: every asset they reference is served by the gateway itself.
And channels get their own OpenAPI document, without the admin API."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings

APP = create_app(GatewaySettings())
BASE = "http://gateway.test"


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url=BASE)


def _references(html: str) -> set[str]:
    """Every URL the page loads: src= and href= attributes, and the URLs in its script (url: '...', …Url: '...')."""
    found = set(re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html))
    found |= set(re.findall(r"""["']?\b\w*[uU]rl["']?\s*:\s*["']([^"']+)["']""", html))
    return found


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_loads_nothing_from_another_host(page: str) -> None:
    async with _client() as http:
        reply = await http.get(page)
        assert reply.status_code == 200 and "text/html" in reply.headers["content-type"]
        html = reply.text
        refs = _references(html)
        assert refs, html
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE), html
        for ref in refs:
            url = urljoin(BASE + page, ref)
            assert url.startswith(BASE + "/"), ref
            asset = await http.get(url)
            assert asset.status_code == 200, (ref, asset.status_code)
            assert asset.content, ref


async def test_swagger_ui_asks_no_online_validator() -> None:
    async with _client() as http:
        html = (await http.get("/docs")).text
    assert re.search(r"""["']?validatorUrl["']?\s*:\s*null""", html), html


def _paths(spec: dict[str, Any]) -> set[str]:
    return set(spec["paths"])


async def test_channels_have_their_own_openapi_document_without_the_admin_api() -> None:
    async with _client() as http:
        reply = await http.get("/v1/openapi.json")
        full = (await http.get("/openapi.json")).json()
    assert reply.status_code == 200
    channel = reply.json()
    assert _paths(channel) and all(p.startswith("/v1/") for p in _paths(channel))
    assert _paths(channel) == {p for p in _paths(full) if p.startswith("/v1/")}
    assert {"/v1/recharges", "/v1/voucher-redemptions", "/v1/products"} <= _paths(channel)
    text = reply.text
    assert "/admin/" not in text and "/providers/" not in text
    # no schema of the admin API is left behind, and every reference still resolves
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
    assert refs <= set(channel["components"]["schemas"])
    assert set(channel["components"]["schemas"]) <= refs | {"ErrorOut"}
    schemas = channel["components"]["schemas"]
    assert not any(name.startswith(("Case", "Refund", "Calendar", "Staff")) for name in schemas)
    assert channel["info"]["description"] == full["info"]["description"]
    assert channel["components"]["schemas"]["ErrorOut"]["properties"]["code"]["enum"]
