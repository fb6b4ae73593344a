"""Every locked package installs from a wheel on every interpreter and machine we promise.

`make test` runs this. For each target (CPython 3.11 to 3.14 on Linux x86_64 and aarch64) it asks uv which
packages the lock installs there (`uv export`, every workspace package and the dev group, markers evaluated for
that target) and looks in `uv.lock` for a wheel whose tags that interpreter accepts (`packaging.tags`, the tag
logic pip and uv use). No interpreter of that version, no network: the lock already names every file.

A package with no fitting wheel fails the check unless it is in `BUILDS_FROM_SDIST` with the reason its sdist
builds on a bare image (pure Python, no compiler); today that list is empty.

    python tools/check_wheels.py            # exits 1 and names each package/target without a wheel
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ((3, 11), (3, 12), (3, 13), (3, 14))
MACHINES = ("x86_64", "aarch64")
#: the oldest glibc we promise: Debian 12 / Ubuntu 22.04 (2.35, 2.36); the service images are Debian 13 (2.41)
GLIBC = (2, 35)
#: packages allowed to install from their sdist, each with why that build needs nothing but Python
BUILDS_FROM_SDIST: dict[str, str] = {}


@dataclass(frozen=True)
class Target:
    python: tuple[int, int]
    machine: str

    def __str__(self) -> str:
        return f"cp{self.python[0]}{self.python[1]}-linux-{self.machine}"

    def environment(self) -> dict[str, str]:
        version = f"{self.python[0]}.{self.python[1]}"
        return {
            "python_version": version, "python_full_version": f"{version}.0", "platform_machine": self.machine,
            "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_version": "", "implementation_version": f"{version}.0", "extra": "",
        }

    def tags(self) -> set[Tag]:
        platforms = [f"manylinux_{GLIBC[0]}_{minor}_{self.machine}" for minor in range(GLIBC[1], 16, -1)]
        # the legacy names of manylinux_2_17 / 2_12 / 2_5 that older wheels still carry
        platforms += [f"manylinux2014_{self.machine}"]
        if self.machine == "x86_64":
            platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        interpreter = f"cp{self.python[0]}{self.python[1]}"
        return {*cpython_tags(self.python, [interpreter], platforms),
                *compatible_tags(self.python, interpreter, platforms)}


def installed_on(target: Target, uv: str) -> Iterator[tuple[str, str]]:
    """(name, version) of every non-workspace package the lock installs on `target`."""
    exported = subprocess.run(
        [uv, "export", "--frozen", "--all-packages", "--all-groups", "--no-hashes", "--no-header",
         "--no-annotate", "--no-emit-workspace", "--format", "requirements-txt"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    environment = target.environment()
    for line in exported.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e", "./")):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not Marker(str(requirement.marker)).evaluate(environment):
            continue
        (spec,) = requirement.specifier  # uv exports exact pins: name==version
        yield canonicalize_name(requirement.name), spec.version


def locked_files(lock: dict) -> dict[tuple[str, str], tuple[list[str], bool]]:
    """(name, version) → (the wheels' file names, whether an sdist is locked too)."""
    files: dict[tuple[str, str], tuple[list[str], bool]] = {}
    for package in lock["package"]:
        wheels = [wheel["url"].rsplit("/", 1)[-1] for wheel in package.get("wheels", [])]
        files[(canonicalize_name(package["name"]), package["version"])] = (wheels, "sdist" in package)
    return files


def missing(targets: Iterable[Target], uv: str) -> list[str]:
    files = locked_files(tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8")))
    problems = []
    for target in targets:
        accepted = target.tags()
        for name, version in installed_on(target, uv):
            wheels, has_sdist = files[(name, version)]
            if any(accepted & set(parse_wheel_filename(wheel)[3]) for wheel in wheels):
                continue
            if has_sdist and name in BUILDS_FROM_SDIST:
                continue
            what = "only an sdist" if has_sdist else "no file at all"
            problems.append(f"{target}: {name} {version} has no wheel for it ({what} is locked)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uv", default=str(ROOT / ".tools" / "bin" / "uv"), help="the uv binary")
    args = parser.parse_args()
    targets = [Target(python, machine) for python in PYTHONS for machine in MACHINES]
    problems = missing(targets, args.uv)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    names = ", ".join(str(target) for target in targets)
    if problems:
        sys.stderr.write(f"wheel check: {len(problems)} package(s) would need a build on {names}\n")
        return 1
    sys.stdout.write(f"wheel check: every locked package has a wheel for {names}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
