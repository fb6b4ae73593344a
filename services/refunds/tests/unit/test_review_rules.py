"""The review desk's rules: which actions resolve which case, who may take them, four eyes."""

from __future__ import annotations

import pytest

from refunds.domain.review import (
    ACTIONS,
    ROLES,
    Action,
    Path,
    check_action,
    check_second_person,
    needs_four_eyes,
    parse_action,
    role_for,
    second_signature_role,
)
from topup_platform.errors import FailedPrecondition, PermissionDenied


def test_every_action_resolves_some_case_and_has_roles() -> None:
    assert {a for actions in ACTIONS.values() for a in actions} == set(Action)
    assert set(ROLES) == set(Action)


@pytest.mark.parametrize(("path", "action"), [
    (Path.HELD, Action.CONFIRM_CREDITED), (Path.AMBIGUOUS, Action.APPROVE),
    (Path.REFUND_REJECTED, Action.RETRY_REFUND),  # the provider would refuse the same refund id again
    (Path.NOTE, Action.CONFIRM_NOT_CREDITED),
])
def test_an_action_that_does_not_fit_the_case_is_refused(path: Path, action: Action) -> None:
    with pytest.raises(FailedPrecondition) as err:
        check_action(path, action)
    assert err.value.code == "REVIEW_ACTION_NOT_APPLICABLE"


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(FailedPrecondition):
        parse_action("refund_twice")


def test_roles() -> None:
    assert role_for(Action.CONFIRM_CREDITED, ["reviewer"]) == "reviewer"
    assert role_for(Action.RECORD_MANUAL_REFUND, ["finance"]) == "finance"
    assert role_for(Action.RECORD_MANUAL_REFUND, ["admin"]) == "admin"
    for action, roles in [(Action.CONFIRM_CREDITED, ["finance"]), (Action.RETRY_REFUND, ["reviewer"]),
                          (Action.APPROVE, [])]:
        with pytest.raises(PermissionDenied) as err:
            role_for(action, roles)
        assert err.value.code == "ADMIN_FORBIDDEN"


def test_finance_may_give_the_second_signature_on_anything() -> None:
    assert second_signature_role(Action.CONFIRM_NOT_CREDITED, ["finance"]) == "finance"
    assert second_signature_role(Action.CONFIRM_NOT_CREDITED, ["reviewer"]) == "reviewer"
    with pytest.raises(PermissionDenied):
        second_signature_role(Action.RETRY_REFUND, ["reviewer"])


def test_four_eyes() -> None:
    assert needs_four_eyes(20_000, 20_000) and not needs_four_eyes(19_999, 20_000)
    assert not needs_four_eyes(10**9, 0)  # 0 turns it off
    check_second_person("alice", "bob")
    with pytest.raises(PermissionDenied) as err:
        check_second_person("alice", "alice")
    assert err.value.code == "FOUR_EYES_SAME_PERSON"


@pytest.mark.parametrize(("proposer", "approver"), [("rita", "Rita"), ("Rita", "rita"), ("rita", "ＲＩＴＡ"),
                                                    ("rita", "rita "), ("straße", "STRASSE"), ("rita", "ri\u200bta")])
def test_four_eyes_compares_staff_ids_canonically(proposer: str, approver: str) -> None:
    """One person, spelt two ways, is still one pair of eyes."""
    with pytest.raises(PermissionDenied) as err:
        check_second_person(proposer, approver)
    assert err.value.code == "FOUR_EYES_SAME_PERSON"
