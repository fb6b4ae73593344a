"""The baseline of DESIGN.md section 7: a bare FastAPI + asyncpg endpoint that inserts one row.

    python -m bench.baseline <port>     (DATABASE_URL names the database)
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=10, max_size=10)
    assert pool is not None
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_baseline (id uuid PRIMARY KEY, body bytea NOT NULL)")
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/baseline")
async def insert(request: Request) -> Response:
    body = await request.body()
    async with request.app.state.pool.acquire() as conn:
        await conn.execute("INSERT INTO bench_baseline (id, body) VALUES ($1, $2)", uuid.uuid4(), body)
    return Response(b'{"ok":true}', status_code=201, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
                loop="uvloop", http="httptools")
