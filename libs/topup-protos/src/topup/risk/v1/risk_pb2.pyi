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

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    OUTCOME_ALLOW: _ClassVar[Outcome]
    OUTCOME_CHALLENGE: _ClassVar[Outcome]
    OUTCOME_REVIEW: _ClassVar[Outcome]
    OUTCOME_DENY: _ClassVar[Outcome]

class RuleSetStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_SET_STATUS_UNSPECIFIED: _ClassVar[RuleSetStatus]
    RULE_SET_STATUS_DRAFT: _ClassVar[RuleSetStatus]
    RULE_SET_STATUS_LIVE: _ClassVar[RuleSetStatus]
    RULE_SET_STATUS_SHADOW: _ClassVar[RuleSetStatus]
    RULE_SET_STATUS_RETIRED: _ClassVar[RuleSetStatus]

class DeployMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPLOY_MODE_UNSPECIFIED: _ClassVar[DeployMode]
    DEPLOY_MODE_LIVE: _ClassVar[DeployMode]
    DEPLOY_MODE_SHADOW: _ClassVar[DeployMode]
OUTCOME_UNSPECIFIED: Outcome
OUTCOME_ALLOW: Outcome
OUTCOME_CHALLENGE: Outcome
OUTCOME_REVIEW: Outcome
OUTCOME_DENY: Outcome
RULE_SET_STATUS_UNSPECIFIED: RuleSetStatus
RULE_SET_STATUS_DRAFT: RuleSetStatus
RULE_SET_STATUS_LIVE: RuleSetStatus
RULE_SET_STATUS_SHADOW: RuleSetStatus
RULE_SET_STATUS_RETIRED: RuleSetStatus
DEPLOY_MODE_UNSPECIFIED: DeployMode
DEPLOY_MODE_LIVE: DeployMode
DEPLOY_MODE_SHADOW: DeployMode

class EvaluateRequest(_message.Message):
    __slots__ = ("idempotency_key", "channel_id", "account", "sku", "amount_fen", "payment", "device_id", "ip", "user_id", "occurred_at", "action", "trace_context")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    channel_id: str
    account: _common_pb2.Account
    sku: str
    amount_fen: int
    payment: _common_pb2.Payment
    device_id: str
    ip: str
    user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    action: str
    trace_context: _containers.ScalarMap[str, str]
    def __init__(self, idempotency_key: _Optional[str] = ..., channel_id: _Optional[str] = ..., account: _Optional[_Union[_common_pb2.Account, _Mapping]] = ..., sku: _Optional[str] = ..., amount_fen: _Optional[int] = ..., payment: _Optional[_Union[_common_pb2.Payment, _Mapping]] = ..., device_id: _Optional[str] = ..., ip: _Optional[str] = ..., user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EvaluateBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[EvaluateRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[EvaluateRequest, _Mapping]]] = ...) -> None: ...

class EvaluateResult(_message.Message):
    __slots__ = ("decision", "error")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    error: _common_pb2.Error
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ...) -> None: ...

class EvaluateBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EvaluateResult]
    def __init__(self, results: _Optional[_Iterable[_Union[EvaluateResult, _Mapping]]] = ...) -> None: ...

class RuleHit(_message.Message):
    __slots__ = ("rule_id", "description", "outcome", "score")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    description: str
    outcome: Outcome
    score: int
    def __init__(self, rule_id: _Optional[str] = ..., description: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., score: _Optional[int] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("decision_id", "outcome", "score", "rules_fired", "ruleset_version", "reason_code", "decided_at", "shadow", "inputs_json")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIRED_FIELD_NUMBER: _ClassVar[int]
    RULESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    INPUTS_JSON_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    outcome: Outcome
    score: int
    rules_fired: _containers.RepeatedCompositeFieldContainer[RuleHit]
    ruleset_version: str
    reason_code: str
    decided_at: _timestamp_pb2.Timestamp
    shadow: Decision
    inputs_json: str
    def __init__(self, decision_id: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, str]] = ..., score: _Optional[int] = ..., rules_fired: _Optional[_Iterable[_Union[RuleHit, _Mapping]]] = ..., ruleset_version: _Optional[str] = ..., reason_code: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shadow: _Optional[_Union[Decision, _Mapping]] = ..., inputs_json: _Optional[str] = ...) -> None: ...

class GetDecisionRequest(_message.Message):
    __slots__ = ("decision_id",)
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    def __init__(self, decision_id: _Optional[str] = ...) -> None: ...

class RuleSet(_message.Message):
    __slots__ = ("version", "body_json", "status", "note", "created_by", "created_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    body_json: str
    status: RuleSetStatus
    note: str
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., body_json: _Optional[str] = ..., status: _Optional[_Union[RuleSetStatus, str]] = ..., note: _Optional[str] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateRuleSetRequest(_message.Message):
    __slots__ = ("body_json", "note", "actor", "validate_only")
    BODY_JSON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    body_json: str
    note: str
    actor: _common_pb2.Actor
    validate_only: bool
    def __init__(self, body_json: _Optional[str] = ..., note: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., validate_only: _Optional[bool] = ...) -> None: ...

class GetRuleSetRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class ListRuleSetsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListRuleSetsResponse(_message.Message):
    __slots__ = ("rule_sets", "state")
    RULE_SETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    rule_sets: _containers.RepeatedCompositeFieldContainer[RuleSet]
    state: RuleSetState
    def __init__(self, rule_sets: _Optional[_Iterable[_Union[RuleSet, _Mapping]]] = ..., state: _Optional[_Union[RuleSetState, _Mapping]] = ...) -> None: ...

class DeployRuleSetRequest(_message.Message):
    __slots__ = ("version", "mode", "actor", "note")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    version: int
    mode: DeployMode
    actor: _common_pb2.Actor
    note: str
    def __init__(self, version: _Optional[int] = ..., mode: _Optional[_Union[DeployMode, str]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class StopShadowRequest(_message.Message):
    __slots__ = ("actor",)
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    actor: _common_pb2.Actor
    def __init__(self, actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class GetRuleSetStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RuleSetState(_message.Message):
    __slots__ = ("live_version", "shadow_version", "generation", "changed_at", "changed_by", "loaded_live_version", "loaded_shadow_version")
    LIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    LOADED_LIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    LOADED_SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    live_version: int
    shadow_version: int
    generation: int
    changed_at: _timestamp_pb2.Timestamp
    changed_by: str
    loaded_live_version: int
    loaded_shadow_version: int
    def __init__(self, live_version: _Optional[int] = ..., shadow_version: _Optional[int] = ..., generation: _Optional[int] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changed_by: _Optional[str] = ..., loaded_live_version: _Optional[int] = ..., loaded_shadow_version: _Optional[int] = ...) -> None: ...

class CompareShadowRequest(_message.Message):
    __slots__ = ("shadow_version", "since", "sample_size")
    SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    shadow_version: int
    since: _timestamp_pb2.Timestamp
    sample_size: int
    def __init__(self, shadow_version: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sample_size: _Optional[int] = ...) -> None: ...

class OutcomePair(_message.Message):
    __slots__ = ("live", "shadow", "count")
    LIVE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    live: Outcome
    shadow: Outcome
    count: int
    def __init__(self, live: _Optional[_Union[Outcome, str]] = ..., shadow: _Optional[_Union[Outcome, str]] = ..., count: _Optional[int] = ...) -> None: ...

class ShadowDifference(_message.Message):
    __slots__ = ("decision_id", "live", "shadow", "live_rules", "shadow_rules", "decided_at")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    LIVE_RULES_FIELD_NUMBER: _ClassVar[int]
    SHADOW_RULES_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    live: Outcome
    shadow: Outcome
    live_rules: _containers.RepeatedScalarFieldContainer[str]
    shadow_rules: _containers.RepeatedScalarFieldContainer[str]
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, decision_id: _Optional[str] = ..., live: _Optional[_Union[Outcome, str]] = ..., shadow: _Optional[_Union[Outcome, str]] = ..., live_rules: _Optional[_Iterable[str]] = ..., shadow_rules: _Optional[_Iterable[str]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ShadowComparison(_message.Message):
    __slots__ = ("shadow_version", "live_versions", "decisions", "agreements", "pairs", "differences")
    SHADOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    LIVE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    AGREEMENTS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    shadow_version: int
    live_versions: _containers.RepeatedScalarFieldContainer[str]
    decisions: int
    agreements: int
    pairs: _containers.RepeatedCompositeFieldContainer[OutcomePair]
    differences: _containers.RepeatedCompositeFieldContainer[ShadowDifference]
    def __init__(self, shadow_version: _Optional[int] = ..., live_versions: _Optional[_Iterable[str]] = ..., decisions: _Optional[int] = ..., agreements: _Optional[int] = ..., pairs: _Optional[_Iterable[_Union[OutcomePair, _Mapping]]] = ..., differences: _Optional[_Iterable[_Union[ShadowDifference, _Mapping]]] = ...) -> None: ...

class ListEntry(_message.Message):
    __slots__ = ("list", "kind", "value", "expires_at", "reason", "created_by", "created_at")
    LIST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    list: str
    kind: str
    value: str
    expires_at: _timestamp_pb2.Timestamp
    reason: str
    created_by: _common_pb2.Actor
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, list: _Optional[str] = ..., kind: _Optional[str] = ..., value: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., created_by: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutListEntryRequest(_message.Message):
    __slots__ = ("entry", "actor")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    entry: ListEntry
    actor: _common_pb2.Actor
    def __init__(self, entry: _Optional[_Union[ListEntry, _Mapping]] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class DeleteListEntryRequest(_message.Message):
    __slots__ = ("list", "kind", "value", "actor")
    LIST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    list: str
    kind: str
    value: str
    actor: _common_pb2.Actor
    def __init__(self, list: _Optional[str] = ..., kind: _Optional[str] = ..., value: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ...) -> None: ...

class DeleteListEntryResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class ListListEntriesRequest(_message.Message):
    __slots__ = ("list", "kind", "limit", "after_kind", "after_value", "include_expired")
    LIST_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AFTER_KIND_FIELD_NUMBER: _ClassVar[int]
    AFTER_VALUE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    list: str
    kind: str
    limit: int
    after_kind: str
    after_value: str
    include_expired: bool
    def __init__(self, list: _Optional[str] = ..., kind: _Optional[str] = ..., limit: _Optional[int] = ..., after_kind: _Optional[str] = ..., after_value: _Optional[str] = ..., include_expired: _Optional[bool] = ...) -> None: ...

class ListListEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ListEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[ListEntry, _Mapping]]] = ...) -> None: ...

class GetLockoutRequest(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Lockout(_message.Message):
    __slots__ = ("kind", "value", "locked", "locked_until", "recent_failures")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    LOCKED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RECENT_FAILURES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    locked: bool
    locked_until: _timestamp_pb2.Timestamp
    recent_failures: int
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ..., locked: _Optional[bool] = ..., locked_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recent_failures: _Optional[int] = ...) -> None: ...

class ClearLockoutRequest(_message.Message):
    __slots__ = ("kind", "value", "actor", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    value: str
    actor: _common_pb2.Actor
    reason: str
    def __init__(self, kind: _Optional[str] = ..., value: _Optional[str] = ..., actor: _Optional[_Union[_common_pb2.Actor, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...
