import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from topup.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_REQUESTED: _ClassVar[RefundStatus]
    REFUND_STATUS_SUBMITTED: _ClassVar[RefundStatus]
    REFUND_STATUS_SETTLED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]
    REFUND_STATUS_CANCELLED: _ClassVar[RefundStatus]
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_REQUESTED: RefundStatus
REFUND_STATUS_SUBMITTED: RefundStatus
REFUND_STATUS_SETTLED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus
REFUND_STATUS_CANCELLED: RefundStatus

class GetRefundRequest(_message.Message):
    __slots__ = ("refund_id", "order_id")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class RefundEvent(_message.Message):
    __slots__ = ("at", "from_status", "to_status", "what", "detail", "actor")
    AT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    from_status: str
    to_status: str
    what: str
    detail: str
    actor: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., from_status: _Optional[str] = ..., to_status: _Optional[str] = ..., what: _Optional[str] = ..., detail: _Optional[str] = ..., actor: _Optional[str] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("refund_id", "order_id", "payment", "amount_fen", "status", "created_at", "deadline_at", "settled_at", "channel_id", "failure_confirmed_at", "provider_refund_no", "attempts", "last_error", "reason_code", "deadline_breached", "events")
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_BREACHED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    refund_id: str
    order_id: str
    payment: _common_pb2.Payment
    amount_fen: int
    status: RefundStatus
    created_at: _timestamp_pb2.Timestamp
    deadline_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    channel_id: str
    failure_confirmed_at: _timestamp_pb2.Timestamp
    provider_refund_no: str
    attempts: int
    last_error: str
    reason_code: str
    deadline_breached: bool
    events: _containers.RepeatedCompositeFieldContainer[RefundEvent]
    def __init__(self, refund_id: _Optional[str] = ..., order_id: _Optional[str] = ..., payment: _Optional[_Union[_common_pb2.Payment, _Mapping]] = ..., amount_fen: _Optional[int] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel_id: _Optional[str] = ..., failure_confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider_refund_no: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., reason_code: _Optional[str] = ..., deadline_breached: _Optional[bool] = ..., events: _Optional[_Iterable[_Union[RefundEvent, _Mapping]]] = ...) -> None: ...

class ListRefundsRequest(_message.Message):
    __slots__ = ("statuses", "due_before", "channel_id", "limit", "cursor")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    DUE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[RefundStatus]
    due_before: _timestamp_pb2.Timestamp
    channel_id: str
    limit: int
    cursor: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[RefundStatus, str]]] = ..., due_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListRefundsResponse(_message.Message):
    __slots__ = ("refunds", "next_cursor")
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    refunds: _containers.RepeatedCompositeFieldContainer[Refund]
    next_cursor: str
    def __init__(self, refunds: _Optional[_Iterable[_Union[Refund, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class NotifyRefundRequest(_message.Message):
    __slots__ = ("provider", "body", "signature")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    provider: str
    body: bytes
    signature: str
    def __init__(self, provider: _Optional[str] = ..., body: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class NotifyRefundResponse(_message.Message):
    __slots__ = ("outcome",)
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    outcome: str
    def __init__(self, outcome: _Optional[str] = ...) -> None: ...

class GetCalendarYearRequest(_message.Message):
    __slots__ = ("year",)
    YEAR_FIELD_NUMBER: _ClassVar[int]
    year: int
    def __init__(self, year: _Optional[int] = ...) -> None: ...

class CalendarYear(_message.Message):
    __slots__ = ("year", "holidays", "working_weekends", "configured", "updated_by", "updated_at")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    WORKING_WEEKENDS_FIELD_NUMBER: _ClassVar[int]
    CONFIGURED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    year: int
    holidays: _containers.RepeatedScalarFieldContainer[str]
    working_weekends: _containers.RepeatedScalarFieldContainer[str]
    configured: bool
    updated_by: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, year: _Optional[int] = ..., holidays: _Optional[_Iterable[str]] = ..., working_weekends: _Optional[_Iterable[str]] = ..., configured: _Optional[bool] = ..., updated_by: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetCalendarYearRequest(_message.Message):
    __slots__ = ("calendar", "actor")
    CALENDAR_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    calendar: CalendarYear
    actor: _common_pb2.Actor
    def __init__(self, calendar: _Optional[_Union[CalendarYear, _Mapping]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class ComputeDeadlineRequest(_message.Message):
    __slots__ = ("confirmed_at",)
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    confirmed_at: _timestamp_pb2.Timestamp
    def __init__(self, confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ComputeDeadlineResponse(_message.Message):
    __slots__ = ("deadline_at", "working_day")
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    WORKING_DAY_FIELD_NUMBER: _ClassVar[int]
    deadline_at: _timestamp_pb2.Timestamp
    working_day: str
    def __init__(self, deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., working_day: _Optional[str] = ...) -> None: ...

class CaseAction(_message.Message):
    __slots__ = ("action_id", "action", "actor", "role", "at", "reason", "before_json", "after_json")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BEFORE_JSON_FIELD_NUMBER: _ClassVar[int]
    AFTER_JSON_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    action: str
    actor: _common_pb2.Actor
    role: str
    at: _timestamp_pb2.Timestamp
    reason: str
    before_json: str
    after_json: str
    def __init__(self, action_id: _Optional[str] = ..., action: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., role: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., before_json: _Optional[str] = ..., after_json: _Optional[str] = ...) -> None: ...

class ReviewCase(_message.Message):
    __slots__ = ("case_id", "kind", "status", "order_id", "refund_id", "channel_id", "amount_fen", "reason_code", "detail", "allowed_actions", "assignee", "opened_at", "proposed_action", "proposed_by", "resolution", "resolved_by", "resolved_at", "needs_four_eyes", "actions", "version")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_ACTION_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_BY_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    NEEDS_FOUR_EYES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    kind: str
    status: str
    order_id: str
    refund_id: str
    channel_id: str
    amount_fen: int
    reason_code: str
    detail: str
    allowed_actions: _containers.RepeatedScalarFieldContainer[str]
    assignee: str
    opened_at: _timestamp_pb2.Timestamp
    proposed_action: str
    proposed_by: str
    resolution: str
    resolved_by: str
    resolved_at: _timestamp_pb2.Timestamp
    needs_four_eyes: bool
    actions: _containers.RepeatedCompositeFieldContainer[CaseAction]
    version: int
    def __init__(self, case_id: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., order_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., reason_code: _Optional[str] = ..., detail: _Optional[str] = ..., allowed_actions: _Optional[_Iterable[str]] = ..., assignee: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proposed_action: _Optional[str] = ..., proposed_by: _Optional[str] = ..., resolution: _Optional[str] = ..., resolved_by: _Optional[str] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., needs_four_eyes: _Optional[bool] = ..., actions: _Optional[_Iterable[_Union[CaseAction, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class ListCasesRequest(_message.Message):
    __slots__ = ("status", "kind", "assignee", "order_id", "limit", "cursor")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    status: str
    kind: str
    assignee: str
    order_id: str
    limit: int
    cursor: str
    def __init__(self, status: _Optional[str] = ..., kind: _Optional[str] = ..., assignee: _Optional[str] = ..., order_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class ListCasesResponse(_message.Message):
    __slots__ = ("cases", "next_cursor")
    CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[ReviewCase]
    next_cursor: str
    def __init__(self, cases: _Optional[_Iterable[_Union[ReviewCase, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class GetCaseRequest(_message.Message):
    __slots__ = ("case_id",)
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    def __init__(self, case_id: _Optional[str] = ...) -> None: ...

class Staff(_message.Message):
    __slots__ = ("id", "roles")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ...) -> None: ...

class AssignCaseRequest(_message.Message):
    __slots__ = ("case_id", "assignee", "staff")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNEE_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    assignee: str
    staff: Staff
    def __init__(self, case_id: _Optional[str] = ..., assignee: _Optional[str] = ..., staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...

class DecideCaseRequest(_message.Message):
    __slots__ = ("case_id", "action", "reason", "staff", "reference")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    action: str
    reason: str
    staff: Staff
    reference: str
    def __init__(self, case_id: _Optional[str] = ..., action: _Optional[str] = ..., reason: _Optional[str] = ..., staff: _Optional[_Union[Staff, _Mapping]] = ..., reference: _Optional[str] = ...) -> None: ...

class ReviewProposalRequest(_message.Message):
    __slots__ = ("case_id", "reason", "staff")
    CASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    case_id: str
    reason: str
    staff: Staff
    def __init__(self, case_id: _Optional[str] = ..., reason: _Optional[str] = ..., staff: _Optional[_Union[Staff, _Mapping]] = ...) -> None: ...
