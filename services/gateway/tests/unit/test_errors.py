"""The error catalogue is the one list of codes a channel can see."""

from __future__ import annotations

import pathlib
import re

import grpc

from gateway.errors import CATALOGUE, code_for_remote, message

ROOT = pathlib.Path(__file__).resolve().parents[4]


def test_every_code_raised_by_a_service_is_documented() -> None:
    raised: set[str] = set()
    for path in [*ROOT.glob("services/*/src/**/*.py")]:
        text = path.read_text()
        raised |= set(re.findall(r'^\s+code = "([A-Z_]+)"', text, re.M))  # domain error classes
        raised |= set(re.findall(r'ApiError\(\s*"([A-Z_]+)"', text))  # gateway errors
    internal = {"INTERNAL", "NOT_FOUND", "CONFLICT", "FAILED_PRECONDITION", "PERMISSION_DENIED", "UNAVAILABLE"}
    assert raised - internal - set(CATALOGUE) == set()


def test_codes_are_upper_snake_with_both_languages() -> None:
    for spec in CATALOGUE.values():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", spec.code)
        assert 400 <= spec.http_status <= 599
        assert spec.zh and spec.en and spec.zh != spec.en


def test_language_choice() -> None:
    spec = CATALOGUE["PRICE_MISMATCH"]
    assert message(spec, None) == spec.zh
    assert message(spec, "en-US,en;q=0.9") == spec.en
    assert message(spec, "zh-CN") == spec.zh


def test_remote_codes_map_to_the_catalogue() -> None:
    assert code_for_remote(grpc.StatusCode.FAILED_PRECONDITION, "PRICE_MISMATCH") == "PRICE_MISMATCH"
    assert code_for_remote(grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE") == "SERVICE_UNAVAILABLE"
    assert code_for_remote(grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED") == "UPSTREAM_TIMEOUT"
    assert code_for_remote(grpc.StatusCode.INTERNAL, "WHATEVER") == "INTERNAL_ERROR"


def test_the_readme_carries_the_whole_catalogue() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("error_table", ROOT / "tools" / "error_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index("<!-- error-table:start -->"), readme.index("<!-- error-table:end -->")
    assert readme[start:end].split("\n", 1)[1].strip() == module.table(), "run: python tools/error_table.py"
