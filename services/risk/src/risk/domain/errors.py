"""The risk engine's errors. Each code is documented in the gateway's error catalogue."""

from __future__ import annotations

from topup_platform.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound


class RiskError(DomainError):
    """Base of the risk engine's errors."""


class InvalidRequest(RiskError, InvalidArgument):
    """The request is malformed."""

    code = "INVALID_REQUEST"


class RuleSetInvalid(RiskError, InvalidArgument):
    """The rule-set is not valid (the metadata says where and why); nothing was stored."""

    code = "RISK_RULESET_INVALID"


class RuleSetNotFound(RiskError, NotFound):
    """No rule-set has this version."""

    code = "RISK_RULESET_NOT_FOUND"


class RuleSetIsLive(RiskError, FailedPrecondition):
    """This version is the live one: it cannot also run in shadow."""

    code = "RISK_RULESET_IS_LIVE"


class DecisionNotFound(RiskError, NotFound):
    """No such decision."""

    code = "NOT_FOUND"
