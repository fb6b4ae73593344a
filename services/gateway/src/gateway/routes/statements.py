"""GET /v1/statements?date=YYYY-MM-DD: a channel's daily statement (对账单) as CSV.

One line per order of the channel that reached a final status (SUCCEEDED, FAILED, REFUNDED, REJECTED) during the
Beijing day, with the last one it reached that day; then the trailer (`#summary` rows: count, paid and refunded
per status, and the TOTAL). The order core reads it in one snapshot and sums it; the gateway only writes CSV.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import grpc
from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from gateway import render
from gateway.auth import AuthenticatedChannel
from gateway.routes.recharges import _ERRORS
from gateway.upstream import Upstream, api_error
from topup.orders.v1 import orders_pb2
from topup_platform.errors import remote_error_from

router = APIRouter(tags=["statements"])

_CSV_DOC = (
    "CSV, UTF-8, one header row, then one row per order: "
    + ",".join(render.STATEMENT_COLUMNS)
    + " (times ISO 8601 UTC; refund_fen is paid_fen for REFUNDED, else 0). Then the trailer, rows "
    + ",".join(render.SUMMARY_COLUMNS)
    + ": one per status and TOTAL. A body without its trailer was cut short: fetch it again. "
      "Its last row is #statement,<channel_id>,<date>,<complete>: complete is true once the day has ended. "
      "A past day's statement never changes: an order FAILED one day and REFUNDED the next is on both days' "
      "statements, each with the status it reached that day."
)


@router.get(
    "/v1/statements", responses={**_ERRORS, 200: {"description": _CSV_DOC, "content": {"text/csv": {}}}},
    summary="Your daily statement (对账单) of one Beijing day, as CSV with a trailer of counts and sums",
)
async def statement(
    request: Request, channel: AuthenticatedChannel,
    date: Annotated[str, Query(description="The Beijing day, YYYY-MM-DD (today or earlier); 422 DATE_INVALID "
                                           "otherwise")] = "",
) -> StreamingResponse:
    upstream: Upstream = request.app.state.upstream
    stream = upstream.orders.StreamStatement(orders_pb2.StatementRequest(channel_id=channel.channel_id, date=date),
                                             timeout=120)
    try:
        first: orders_pb2.StatementChunk = await stream.read()  # errors surface before the response starts
    except grpc.aio.AioRpcError as err:
        raise api_error(remote_error_from(err)) from err

    async def body() -> AsyncIterator[str]:
        chunk = first
        yield render.statement_header()
        while True:
            yield render.statement_lines(chunk)
            if chunk.HasField("summary"):
                yield render.statement_trailer(chunk.summary)
                return
            chunk = await stream.read()
            if chunk is grpc.aio.EOF:  # never without a summary: a cut-short body has no trailer
                return

    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="statement-{channel.channel_id}-{date}.csv"'})
