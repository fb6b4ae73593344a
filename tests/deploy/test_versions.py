"""One PostgreSQL and one Python from a laptop to production: the embedded PostgreSQL of `make run` and `make
test`, the compose file and the Kubernetes `Cluster` run the same major version; the images run the newest
CPython that the wheel check (`tools/check_wheels.py`) proves every locked package supports."""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from tests.deploy import catalog
from tests.deploy.catalog import ROOT
from topup_devstack.infra import EmbeddedPostgres

sys.path.insert(0, str(ROOT / "tools"))
import check_wheels


def major(image: str) -> int:
    tag = image.rsplit(":", 1)[1]
    found = re.match(r"[0-9]+", tag)
    assert found, image
    return int(found.group())


def test_compose_and_the_cluster_run_the_embedded_major_version(compose: dict[str, Any]) -> None:
    cluster = yaml.safe_load((ROOT / "deploy/k8s/base/postgres/cluster.yaml").read_text())
    assert major(compose["services"]["postgres"]["image"]) == EmbeddedPostgres.VERSION
    assert major(cluster["spec"]["imageName"]) == EmbeddedPostgres.VERSION


def test_images_run_the_newest_python_the_lock_supports() -> None:
    newest = "{}.{}".format(*max(check_wheels.PYTHONS))
    for component in catalog.components():
        found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / component.dockerfile).read_text(), re.M)
        assert found, component.name
        assert found.group(1).startswith(f"python:{newest}-"), (component.name, found.group(1))


def test_every_package_allows_the_pythons_the_wheel_check_covers() -> None:
    members = [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml"),
               *ROOT.glob("simulators/*/pyproject.toml")]
    for pyproject in [ROOT / "pyproject.toml", *members]:
        text = pyproject.read_text()
        assert 'requires-python = ">=3.11"' in text, pyproject
