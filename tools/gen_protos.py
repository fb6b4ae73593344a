"""Generate the Python stubs of protos/ into libs/topup-protos/src, or check that they are fresh.

    python tools/gen_protos.py          # regenerate
    python tools/gen_protos.py --check  # exit 1 when the committed stubs differ from a fresh generation

Proto paths mirror the Python packages (protos/topup/orders/v1/orders.proto -> topup.orders.v1.orders_pb2),
so the generated imports need no rewriting.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "topup-protos" / "src"
PACKAGE = "topup"


def generate(out: Path) -> None:
    protos = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in (PROTO_ROOT / PACKAGE).rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Every directory on the way becomes a regular package, and the root says it is typed.
    for directory in [out / PACKAGE, *(p for p in (out / PACKAGE).rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    (out / PACKAGE / "py.typed").touch()


def tree(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(OUT_ROOT / PACKAGE, ignore_errors=True)
        generate(OUT_ROOT)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        committed_root = OUT_ROOT / PACKAGE
        fresh_files, committed_files = tree(fresh / PACKAGE), tree(committed_root)
        stale = sorted(fresh_files ^ committed_files)
        stale += sorted(
            f for f in fresh_files & committed_files
            if not filecmp.cmp(fresh / PACKAGE / f, committed_root / f, shallow=False)
        )
        if stale:
            print("Generated stubs are stale; run `make protos`. Differences:", *stale, sep="\n  ")  # noqa: T201
            return 1
    print("Generated stubs are fresh.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
