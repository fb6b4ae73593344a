"""The RefundsService gRPC servicer: refunds, the calendar, provider notices and the review desk."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

import asyncpg
import grpc
import orjson

from refunds import repository as repo
from refunds.calendar_store import CalendarStore
from refunds.desk import ReviewDesk, StaffMember
from refunds.domain.calendar import CalendarError, CalendarYear
from refunds.domain.review import ACTIONS, Path, needs_four_eyes
from refunds.lifecycle import RefundBook
from refunds.provider import PROVIDERS, verify_notice
from topup.common.v1 import common_pb2
from topup.refunds.v1 import refunds_pb2, refunds_pb2_grpc
from topup_platform import identifiers, vocab
from topup_platform.access import AccessPolicy
from topup_platform.errors import InvalidArgument, NotFound, PermissionDenied
from topup_platform.logging import get_logger
from topup_platform.staff import current as verified_staff
from topup_platform.timeutil import from_timestamp, to_timestamp

log = get_logger(__name__)

STATUS: dict[str, refunds_pb2.RefundStatus] = {
    "REQUESTED": refunds_pb2.REFUND_STATUS_REQUESTED,
    "SUBMITTED": refunds_pb2.REFUND_STATUS_SUBMITTED,
    "SETTLED": refunds_pb2.REFUND_STATUS_SETTLED,
    "FAILED": refunds_pb2.REFUND_STATUS_FAILED,
    "CANCELLED": refunds_pb2.REFUND_STATUS_CANCELLED,
}
STATUS_NAMES = {v: k for k, v in STATUS.items()}
MAX_PAGE = 200

#: who may call what (the peer's certificate names it): the gateway serves the admin API and hands over the
#: providers' notices; operators' tools read
ACCESS = AccessPolicy.of(refunds_pb2.DESCRIPTOR.services_by_name["RefundsService"], {
    "gateway": ["GetRefund", "ListRefunds", "NotifyRefund", "GetCalendarYear", "SetCalendarYear", "ComputeDeadline",
                "ListCases", "GetCase", "AssignCase", "DecideCase", "ApproveProposal", "DeclineProposal"],
    "ops": ["GetRefund", "ListRefunds", "GetCalendarYear", "ComputeDeadline", "ListCases", "GetCase"],
})


def _uuid(value: str, what: str) -> UUID:
    try:
        return identifiers.parse_uuid(value)
    except ValueError:
        raise InvalidArgument(f"{what} must be a valid id") from None


def _cursor(value: str) -> tuple[datetime, UUID] | None:
    if not value:
        return None
    try:
        at, key = base64.urlsafe_b64decode(value.encode()).decode().split("|")
        return datetime.fromisoformat(at), UUID(key)
    except ValueError:
        raise InvalidArgument("cursor is not one we gave out") from None


def _next_cursor(rows: list[asyncpg.Record], limit: int, at: str, key: str) -> str:
    if len(rows) < limit:
        return ""
    last = rows[-1]
    return base64.urlsafe_b64encode(f"{last[at].isoformat()}|{last[key]}".encode()).decode()


def _limit(value: int) -> int:
    return max(1, min(value or 50, MAX_PAGE))


def refund_pb(row: asyncpg.Record, events: list[asyncpg.Record] | None = None) -> refunds_pb2.Refund:
    return refunds_pb2.Refund(
        refund_id=str(row["refund_id"]), order_id=str(row["order_id"]), channel_id=row["channel_id"],
        payment=common_pb2.Payment(method=vocab.PAYMENT_METHODS[row["payment_method"]],
                                   transaction_id=row["payment_transaction_id"], paid_fen=row["amount_fen"]),
        amount_fen=row["amount_fen"], status=STATUS[row["status"]], created_at=to_timestamp(row["created_at"]),
        deadline_at=to_timestamp(row["deadline_at"]), settled_at=to_timestamp(row["settled_at"]),
        failure_confirmed_at=to_timestamp(row["failure_confirmed_at"]), provider_refund_no=row["provider_refund_no"],
        attempts=row["attempts"], last_error=row["last_error"], reason_code=row["reason_code"],
        deadline_breached=row["deadline_breached_at"] is not None,
        events=[refunds_pb2.RefundEvent(at=to_timestamp(e["at"]), from_status=e["from_status"],
                                        to_status=e["to_status"], what=e["what"], detail=e["detail"],
                                        actor=e["actor"]) for e in events or []],
    )


def case_pb(row: asyncpg.Record, threshold: int, actions: list[asyncpg.Record] | None = None) -> refunds_pb2.ReviewCase:
    kind = {"staff": common_pb2.Actor.KIND_STAFF, "service": common_pb2.Actor.KIND_SERVICE}
    return refunds_pb2.ReviewCase(
        case_id=str(row["case_id"]), kind=row["kind"], status=row["status"],
        order_id=str(row["order_id"] or ""), refund_id=str(row["refund_id"] or ""), channel_id=row["channel_id"],
        amount_fen=row["amount_fen"], reason_code=row["reason_code"], detail=row["detail"],
        allowed_actions=[a.value for a in ACTIONS[Path(row["path"])]] if row["status"] != "RESOLVED" else [],
        assignee=row["assignee"], opened_at=to_timestamp(row["opened_at"]), proposed_action=row["proposed_action"],
        proposed_by=row["proposed_by"], resolution=row["resolution"], resolved_by=row["resolved_by"],
        resolved_at=to_timestamp(row["resolved_at"]), needs_four_eyes=needs_four_eyes(row["amount_fen"], threshold),
        version=row["version"],
        actions=[refunds_pb2.CaseAction(
            action_id=str(a["action_id"]), action=a["action"],
            actor=common_pb2.Actor(kind=kind.get(a["actor_kind"], common_pb2.Actor.KIND_UNSPECIFIED), id=a["actor_id"]),
            role=a["role"], at=to_timestamp(a["at"]), reason=a["reason"],
            before_json=a["before"] or "", after_json=a["after"] or "") for a in actions or []],
    )


def _staff() -> StaffMember:
    """The member of staff of the gateway's signed assertion (the request's `staff` field is ignored)."""
    who = verified_staff()
    return StaffMember(who.id, who.roles)


class RefundsServicer(refunds_pb2_grpc.RefundsServiceServicer):
    def __init__(self, pool: asyncpg.Pool, book: RefundBook, desk: ReviewDesk, calendar: CalendarStore,
                 notify_secret: str, four_eyes_threshold_fen: int) -> None:
        self.pool = pool
        self.book = book
        self.desk = desk
        self.calendar = calendar
        self.notify_secret = notify_secret
        self.threshold = four_eyes_threshold_fen

    # --- refunds ---------------------------------------------------------------------------------------

    async def GetRefund(self, request: refunds_pb2.GetRefundRequest,
                        context: grpc.aio.ServicerContext) -> refunds_pb2.Refund:
        try:
            refund_id = identifiers.parse_uuid(request.refund_id) if request.refund_id else None
            order_id = identifiers.parse_uuid(request.order_id) if refund_id is None else None
        except ValueError:
            raise NotFound("no such refund", code="REFUND_NOT_FOUND") from None
        async with self.pool.acquire() as conn:
            row = await repo.get_refund(conn, refund_id=refund_id, order_id=order_id)
            if row is None:
                raise NotFound("no such refund", code="REFUND_NOT_FOUND")
            return refund_pb(row, await repo.events_of(conn, row["refund_id"]))

    async def ListRefunds(self, request: refunds_pb2.ListRefundsRequest,
                          context: grpc.aio.ServicerContext) -> refunds_pb2.ListRefundsResponse:
        limit = _limit(request.limit)
        statuses = [STATUS_NAMES[s] for s in request.statuses if s in STATUS_NAMES]
        async with self.pool.acquire() as conn:
            rows = await repo.list_refunds(
                conn, statuses=statuses, due_before=from_timestamp(request.due_before) if request.HasField(
                    "due_before") else None, channel_id=request.channel_id, after=_cursor(request.cursor),
                limit=limit)
        return refunds_pb2.ListRefundsResponse(refunds=[refund_pb(r) for r in rows],
                                               next_cursor=_next_cursor(rows, limit, "deadline_at", "refund_id"))

    async def NotifyRefund(self, request: refunds_pb2.NotifyRefundRequest,
                           context: grpc.aio.ServicerContext) -> refunds_pb2.NotifyRefundResponse:
        """A provider's settlement notice: believed only when its signature verifies and it matches the refund
        we asked for (provider, amount); anything else changes nothing."""
        if request.provider not in PROVIDERS:
            raise NotFound("no such payment provider", code="NOT_FOUND")
        if not verify_notice(self.notify_secret, request.body, request.signature):
            log.warning("a refund notice with a bad signature was refused", provider=request.provider)
            raise PermissionDenied("the notice's signature does not verify", code="NOTICE_SIGNATURE_INVALID")
        try:
            notice = orjson.loads(request.body)
            refund_id, status = identifiers.parse_uuid(str(notice["refund_id"])), str(notice["status"])
            amount = notice["amount_fen"]
            if type(amount) is not int:  # a JSON integer: int("١٠٠") would take a string of look-alike digits
                raise TypeError("amount_fen must be an integer")
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise InvalidArgument("the notice is not a refund notice") from None
        try:
            return await self._apply_notice(request.provider, refund_id, status, amount, notice)
        finally:
            self.book.outbox.wake()

    async def _apply_notice(self, provider: str, refund_id: UUID, status: str, amount: int,
                            notice: dict[str, object]) -> refunds_pb2.NotifyRefundResponse:
        async with self.pool.acquire() as conn, conn.transaction():
            refund = await repo.get_refund(conn, refund_id=refund_id, for_update=True)
            if refund is None or refund["payment_method"] != provider or refund["amount_fen"] != amount:
                log.warning("a refund notice matched no refund of ours", provider=provider,
                            refund_id=str(refund_id))
                raise NotFound("no such refund", code="REFUND_NOT_FOUND")
            if status == "SETTLED":
                settled = await self.book.settle(conn, refund_id, by="provider", what="settled_by_notice",
                                                 provider_refund_no=str(notice.get("provider_refund_no", "")))
                return refunds_pb2.NotifyRefundResponse(outcome="settled" if settled else "already_settled")
            if status == "REJECTED":
                failed = await self.book.fail(conn, refund, reason_code=str(notice.get("reject_reason") or
                                                                             "PROVIDER_REJECTED"),
                                              detail="the provider refused it at settlement",
                                              path=Path.REFUND_REJECTED)
                return refunds_pb2.NotifyRefundResponse(outcome="failed" if failed else "ignored")
        return refunds_pb2.NotifyRefundResponse(outcome="ignored")

    # --- the calendar ----------------------------------------------------------------------------------

    def _year_pb(self, year: int) -> refunds_pb2.CalendarYear:
        y = self.calendar.calendar.year(year)
        by, at = self.calendar.meta.get(year, ("", None))
        return refunds_pb2.CalendarYear(year=year, holidays=sorted(d.isoformat() for d in y.holidays),
                                        working_weekends=sorted(d.isoformat() for d in y.working_weekends),
                                        configured=y.configured, updated_by=by, updated_at=to_timestamp(at))

    async def GetCalendarYear(self, request: refunds_pb2.GetCalendarYearRequest,
                              context: grpc.aio.ServicerContext) -> refunds_pb2.CalendarYear:
        if not 2000 <= request.year <= 2100:
            raise InvalidArgument("the year must be between 2000 and 2100")
        await self.calendar.reload()
        return self._year_pb(request.year)

    async def SetCalendarYear(self, request: refunds_pb2.SetCalendarYearRequest,
                              context: grpc.aio.ServicerContext) -> refunds_pb2.CalendarYear:
        c = request.calendar
        try:
            year = CalendarYear.parse(c.year, c.holidays, c.working_weekends)
        except CalendarError as err:
            raise InvalidArgument(str(err), code="CALENDAR_INVALID") from None
        by = verified_staff().id  # the request's `actor` is ignored
        async with self.pool.acquire() as conn:
            await repo.save_calendar_year(conn, year.year, list(year.holidays), list(year.working_weekends), by)
        log.info("working-day calendar changed", year=year.year, by=by,
                 holidays=len(year.holidays), working_weekends=len(year.working_weekends))
        await self.calendar.reload()
        return self._year_pb(year.year)

    async def ComputeDeadline(self, request: refunds_pb2.ComputeDeadlineRequest,
                              context: grpc.aio.ServicerContext) -> refunds_pb2.ComputeDeadlineResponse:
        confirmed = from_timestamp(request.confirmed_at)
        if confirmed is None:
            raise InvalidArgument("confirmed_at is required")
        deadline_at, day = self.calendar.deadline(confirmed)
        return refunds_pb2.ComputeDeadlineResponse(deadline_at=to_timestamp(deadline_at), working_day=day.isoformat())

    # --- the review desk -------------------------------------------------------------------------------

    async def _case(self, case_id: UUID) -> refunds_pb2.ReviewCase:
        async with self.pool.acquire() as conn:
            row = await repo.get_case(conn, case_id)
            if row is None:
                raise NotFound("no such review case", code="CASE_NOT_FOUND")
            return case_pb(row, self.threshold, await repo.actions_of(conn, case_id))

    async def ListCases(self, request: refunds_pb2.ListCasesRequest,
                        context: grpc.aio.ServicerContext) -> refunds_pb2.ListCasesResponse:
        if request.status not in ("", "OPEN", "AWAITING_SECOND_APPROVAL", "RESOLVED"):
            raise InvalidArgument("status is OPEN, AWAITING_SECOND_APPROVAL or RESOLVED")
        limit = _limit(request.limit)
        async with self.pool.acquire() as conn:
            rows = await repo.list_cases(
                conn, status=request.status, kind=request.kind, assignee=request.assignee,
                order_id=_uuid(request.order_id, "order_id") if request.order_id else None,
                after=_cursor(request.cursor), limit=limit)
        return refunds_pb2.ListCasesResponse(cases=[case_pb(r, self.threshold) for r in rows],
                                             next_cursor=_next_cursor(rows, limit, "opened_at", "case_id"))

    async def GetCase(self, request: refunds_pb2.GetCaseRequest,
                      context: grpc.aio.ServicerContext) -> refunds_pb2.ReviewCase:
        try:
            case_id = identifiers.parse_uuid(request.case_id)
        except ValueError:
            raise NotFound("no such review case", code="CASE_NOT_FOUND") from None
        return await self._case(case_id)

    async def AssignCase(self, request: refunds_pb2.AssignCaseRequest,
                         context: grpc.aio.ServicerContext) -> refunds_pb2.ReviewCase:
        return await self._case(await self.desk.assign(request.case_id, request.assignee, _staff()))

    async def DecideCase(self, request: refunds_pb2.DecideCaseRequest,
                         context: grpc.aio.ServicerContext) -> refunds_pb2.ReviewCase:
        return await self._case(await self.desk.decide(request.case_id, request.action, request.reason,
                                                       _staff(), request.reference))

    async def ApproveProposal(self, request: refunds_pb2.ReviewProposalRequest,
                              context: grpc.aio.ServicerContext) -> refunds_pb2.ReviewCase:
        return await self._case(await self.desk.approve(request.case_id, request.reason, _staff()))

    async def DeclineProposal(self, request: refunds_pb2.ReviewProposalRequest,
                              context: grpc.aio.ServicerContext) -> refunds_pb2.ReviewCase:
        return await self._case(await self.desk.decline(request.case_id, request.reason, _staff()))

