"""The signing examples of docs/signing/ (Node, Java, Go, PHP), each run against the published test vectors.

Node is required: `make test` installs it when the machine has none (`make docs-tools`), and under CI (`CI` set)
a missing node fails the test instead of skipping it. Java, Go and PHP run where their toolchain is installed and
are skipped, saying so, elsewhere. Each example exits non-zero when any vector disagrees.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "signing"
VECTORS = DOCS / "test-vectors.json"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, check=False)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith("ok ") for line in lines), done.stdout
    assert len(lines) == VECTORS.read_text().count('"algorithm"')  # every vector was checked


def test_node_example() -> None:
    if shutil.which("node") is None:
        message = "node is not installed: the Node signing example (docs/signing/node) was not run (make docs-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    _run(["node", "sign.js", str(VECTORS)], DOCS / "node")


def test_java_example() -> None:
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("no JDK (java and javac): the Java signing example (docs/signing/java) was not run")
    _run(["java", "Sign.java", str(VECTORS)], DOCS / "java")


def test_go_example(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("go is not installed: the Go signing example (docs/signing/go) was not run")
    _run(["go", "run", "main.go", str(VECTORS)], DOCS / "go",
         {"GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"), "GO111MODULE": "off",
          "GOFLAGS": ""})


def test_php_example() -> None:
    if shutil.which("php") is None:
        pytest.skip("php is not installed: the PHP signing example (docs/signing/php) was not run")
    _run(["php", "sign.php", str(VECTORS)], DOCS / "php")
