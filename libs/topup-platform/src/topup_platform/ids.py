"""Identifiers: UUIDv7 (time-ordered, so primary-key inserts stay local in the b-tree)."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def new_id_str() -> str:
    return str(uuid_utils.uuid7())
