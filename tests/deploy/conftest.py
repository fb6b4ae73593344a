"""Static validation of the deployment: docker-compose.yml, the Dockerfiles, deploy/k8s, the dashboards and the
alert rules. Nothing here runs a container or a cluster: `kubectl kustomize` renders the overlays (the Makefile
installs kubectl), schemas validate the objects, and the tests check that ports, names and environment
variables agree with the services' settings classes (tests/deploy/catalog.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.catalog import ROOT

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is needed to render the kustomize overlays: `make test` installs it "
                    "(apt-get install -y kubectl)")
    return path


def render(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory.relative_to(ROOT)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


_rendered: dict[str, list[dict[str, Any]]] = {}


def rendered(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _rendered:
        _rendered[overlay] = render(K8S / "overlays" / overlay)
    return _rendered[overlay]


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def objects(overlay: str) -> list[dict[str, Any]]:
    return rendered(overlay)


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())
