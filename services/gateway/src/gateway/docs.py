"""The API documentation pages, served entirely by the gateway (no CDN: blank offline, unreliable from mainland
networks otherwise), and the channels' own OpenAPI document.

FastAPI's documented way (docs_url=None, and routes rendering `get_swagger_ui_html` / `get_redoc_html` with our own
asset URLs); the Swagger UI and ReDoc bundles are the ones the `fastapi-offline` package ships (Swagger UI under
Apache-2.0, ReDoc under MIT), mounted read-only under /static/docs. Swagger UI's online validator is switched off.

    /docs, /redoc           the full document (/openapi.json: the channel API, the admin API, provider notices)
    /v1/openapi.json        the channel API only (every /v1/ path, the schemas they use): what a channel needs
"""

from __future__ import annotations

import copy
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from gateway.responses import FastJSON

STATIC_PREFIX = "/static/docs"
CHANNEL_PREFIX = "/v1/"
_REF = re.compile(r"#/components/schemas/([A-Za-z0-9_.-]+)")


def _assets() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def channel_document(full: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document restricted to the channel API: its paths, and only the schemas they reach."""
    spec = copy.deepcopy(full)
    spec["paths"] = {p: item for p, item in spec.get("paths", {}).items() if p.startswith(CHANNEL_PREFIX)}
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    keep: set[str] = set()
    todo = set(_REF.findall(repr(spec["paths"])))
    while todo:
        name = todo.pop()
        if name in keep or name not in schemas:
            continue
        keep.add(name)
        todo |= set(_REF.findall(repr(schemas[name])))
    if schemas:
        spec["components"]["schemas"] = {n: s for n, s in schemas.items() if n in keep}
    used_tags = {t for item in spec["paths"].values() for op in item.values() for t in op.get("tags", [])}
    if "tags" in spec:
        spec["tags"] = [t for t in spec["tags"] if t.get("name") in used_tags]
    return spec


def install(app: FastAPI) -> None:
    """Add /docs, /redoc, their assets and /v1/openapi.json to an app created with docs_url=redoc_url=None."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=_assets()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js", swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None})

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{STATIC_PREFIX}/redoc.standalone.js",
                              redoc_favicon_url=f"{STATIC_PREFIX}/favicon.png", with_google_fonts=False)

    cached: dict[str, Any] = {}

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def channel_openapi() -> FastJSON:
        if "spec" not in cached:
            cached["spec"] = channel_document(app.openapi())
        return FastJSON(cached["spec"])
