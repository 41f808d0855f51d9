#!/usr/bin/env python3
"""Build a byte-reproducible Lambda zip from one or more source directories.

Terraform names the package after a hash of the sources, which it computes at plan time with
`fileset` and `filesha256` (see main.tf, local.source_hash). This script computes the same hash
with the same file rules, refuses to build when the two disagree, and writes a zip whose bytes
depend only on the file names and contents:

- entries sorted by name, names relative to their source directory, `/` separators;
- fixed timestamp (1980-01-01 00:00:00, the zip epoch) and fixed mode (0644 files);
- stored, not deflated: deflate output varies between zlib builds (zlib-ng, say), stored bytes do not.

Usage: package.py --source DIR [--source DIR ...] [--expect-hash HEX] OUTPUT.zip
Standard library only, so `terraform apply` needs nothing but Python 3.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
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
    parser.add_argument("output", type=Path, help="zip file to write")
    args = parser.parse_args(argv)

    files = collect(args.source)
    digest = source_hash(files)
    if args.expect_hash and args.expect_hash != digest:
        raise SystemExit(
            f"package.py: --expect-hash {args.expect_hash} does not match the sources ({digest}): "
            "they changed after Terraform hashed them, or Terraform and package.py disagree on the files; "
            "nothing was written"
        )
    write_zip(files, args.output)
    print(f"{args.output} {digest} {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
