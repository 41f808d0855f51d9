#!/usr/bin/env python3
"""Build a byte-reproducible Lambda zip from one or more source directories.

Terraform names the package after a hash of the sources, which it computes at plan time with
`fileset` and `filesha256` (see main.tf, local.source_hash). This script computes the same hash
with the same file rules, refuses to build when the two disagree, and writes a zip whose bytes
depend only on the file names and contents:

- entries sorted by name, names relative to their source directory, `/` separators;
- fixed timestamp (1980-01-01 00:00:00, the zip epoch) and fixed mode (0644 files);
- stored, not deflated: deflate output varies between zlib builds (zlib-ng, say), stored bytes do not.

Dependencies: with --pip-platform and --python-version, each source directory holding a
`requirements.txt` at its top gets those requirements installed by pip into the package root, as
wheels for that platform (`--only-binary=:all:`: nothing is compiled here, so the build does not
depend on this machine's compilers). Every requirement must be pinned (`name==version`), so the
same requirements file gives the same files; pip's per-machine traces are dropped (byte-code, the
`bin/` scripts whose first line names this machine's interpreter, and their RECORD lines).

Usage: package.py --source DIR [--source DIR ...] [--expect-hash HEX]
                  [--pip-platform manylinux2014_aarch64 --python-version 3.13] OUTPUT.zip
Standard library only, so `terraform apply` needs nothing but Python 3 (and pip for requirements).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--

# Must match the filter in main.tf (local.source_files): byte-code caches are never packaged.
def is_packaged(relative: str) -> bool:
    parts = relative.split("/")
    return "__pycache__" not in parts[:-1] and not relative.endswith(".pyc")


def walk(source: Path) -> list[Path]:
    """Every regular file under source, through symlinks to files and to directories.

    Terraform's fileset follows both kinds (a `shared -> ../shared` link is a common layout);
    Path.rglob does not descend into linked directories, so it would package less than was hashed.
    """
    found = []
    for directory, _, names in os.walk(source, followlinks=True):
        found.extend(path for path in (Path(directory, name) for name in names) if path.is_file())
    return sorted(found)


def collect(sources: list[Path]) -> dict[str, Path]:
    """Map each archive name to its file; a name found in two source directories is an error."""
    files: dict[str, Path] = {}
    origin: dict[str, Path] = {}  # the source directory each name came from
    for source in sources:
        if not source.is_dir():
            raise SystemExit(f"package.py: --source {source}: not a directory")
        names = [(path.relative_to(source).as_posix(), path) for path in walk(source)]
        packaged = [(name, path) for name, path in names if is_packaged(name)]
        if not packaged:
            raise SystemExit(f"package.py: --source {source}: no files to package")
        for name, path in packaged:
            if name in files:
                raise SystemExit(f"package.py: {name} is in both {origin[name]} and {source}")
            files[name] = path
            origin[name] = source
    return dict(sorted(files.items()))


def source_hash(files: dict[str, Path]) -> str:
    """sha256 over `<name> <sha256 of content>` lines: the same value as main.tf's local.source_hash."""
    lines = sorted(f"{name} {hashlib.sha256(path.read_bytes()).hexdigest()}" for name, path in files.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


REQUIREMENTS = "requirements.txt"
# `name==version` or `name[extra]==version`, optionally with environment markers after `;`.
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?\s*===?\s*[^\s;*]+(\s*;.*)?$")


def check_pinned(requirements: Path) -> None:
    """Refuse what would make the installed files depend on the day of the build or on other files."""
    for number, raw in enumerate(requirements.read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable")):
            raise SystemExit(f"package.py: {requirements}:{number}: {line!r}: include files and editable installs are not packaged; list pinned requirements here")
        if line.startswith("--"):
            continue  # index options (--index-url, --extra-index-url, ...)
        if not PINNED.match(line):
            raise SystemExit(f"package.py: {requirements}:{number}: {line!r} is not pinned: write name==version so every build installs the same files")


def install_requirements(requirements: Path, target: Path, platform: str, python_version: str) -> dict[str, Path]:
    """pip-install pinned requirements as wheels for the function's platform; map archive names to files."""
    check_pinned(requirements)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-compile", "--only-binary=:all:", "--platform", platform, "--implementation", "cp",
        "--python-version", python_version, "--target", str(target), "--requirement", str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"package.py: pip could not install {requirements} for {platform}, Python {python_version} (exit {result.returncode}):\n{result.stderr.strip()}")
    files: dict[str, Path] = {}
    for path in walk(target):
        name = path.relative_to(target).as_posix()
        if name.startswith("bin/") or not is_packaged(name):
            continue
        if name.endswith(".dist-info/RECORD"):
            # Lines for files outside the package root (scripts in bin/) carry this machine's paths.
            lines = [line for line in path.read_text().splitlines() if not line.startswith("../")]
            path.write_text("".join(f"{line}\n" for line in lines))
        files[name] = path
    return files


def merge_dependencies(files: dict[str, Path], dependencies: dict[str, Path], requirements: Path) -> dict[str, Path]:
    clashes = sorted(set(files) & set(dependencies))
    if clashes:
        raise SystemExit(f"package.py: {', '.join(clashes[:5])} both in the sources and installed from {requirements}")
    return dict(sorted({**files, **dependencies}.items()))


def write_zip(files: dict[str, Path], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in files.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is honoured the same everywhere
            archive.writestr(info, path.read_bytes())
    os.replace(partial, output)  # never leave a half-written package under the final name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", required=True, type=Path, help="source directory (repeatable)")
    parser.add_argument("--expect-hash", help="the source hash Terraform computed; refuse to build on a mismatch")
    parser.add_argument("--pip-platform", help="install each source directory's requirements.txt for this pip platform (manylinux2014_aarch64, ...)")
    parser.add_argument("--python-version", help="the runtime's Python version for --pip-platform (3.13, ...)")
    parser.add_argument("output", type=Path, help="zip file to write")
    args = parser.parse_args(argv)
    if bool(args.pip_platform) != bool(args.python_version):
        parser.error("--pip-platform and --python-version go together")

    files = collect(args.source)
    digest = source_hash(files)
    if args.expect_hash and args.expect_hash != digest:
        raise SystemExit(
            f"package.py: --expect-hash {args.expect_hash} does not match the sources ({digest}): "
            "they changed after Terraform hashed them, or Terraform and package.py disagree on the files; "
            "nothing was written"
        )
    requirements = [source / REQUIREMENTS for source in args.source if (source / REQUIREMENTS).is_file()]
    if requirements and not args.pip_platform:
        raise SystemExit(f"package.py: {requirements[0]}: requirements need --pip-platform and --python-version (the function's platform)")
    with tempfile.TemporaryDirectory(prefix="lambda-deps-") as scratch:
        for number, requirement in enumerate(requirements):
            target = Path(scratch, str(number))
            files = merge_dependencies(files, install_requirements(requirement, target, args.pip_platform, args.python_version), requirement)
        write_zip(files, args.output)
    print(f"{args.output} {digest} {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
