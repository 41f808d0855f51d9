"""modules/lambda_route/package.py: the packager Terraform runs at apply time (local-exec).

Pure Python and fast. The packager is loaded from its file, as Terraform runs it; that
Terraform's plan-time hash equals package.py's is checked on real plans in
test_lambda_route_module.py.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

PACKAGER = Path(__file__).resolve().parents[1] / "modules" / "lambda_route" / "package.py"


def _load_packager():
    spec = importlib.util.spec_from_file_location("lambda_route_package", PACKAGER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


package = _load_packager()

HANDLER_FILES = {
    "app.py": b"from helpers.text import greeting\nfrom responses import reply\n\n\ndef handler(event, context):\n    return reply(greeting())\n",
    "helpers/__init__.py": b"",
    "helpers/text.py": b"def greeting():\n    return 'hello'\n",
}
SHARED_FILES = {"responses.py": b"def reply(body):\n    return {'statusCode': 200, 'body': body}\n"}
BYTE_CODE = {
    "__pycache__/app.cpython-313.pyc": b"\x00compiled",
    "helpers/__pycache__/text.cpython-313.pyc": b"\x00compiled",
    "helpers/stale.pyc": b"\x00compiled",
}
PACKAGED_NAMES = ["app.py", "helpers/__init__.py", "helpers/text.py", "responses.py"]


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def build(sources: list[Path], output: Path) -> bytes:
    package.write_zip(package.collect(sources), output)
    return output.read_bytes()


def run_packager(*args: object) -> subprocess.CompletedProcess[str]:
    """The CLI as local-exec runs it; -I -S: no site-packages, so only the standard library is there."""
    return subprocess.run([sys.executable, "-I", "-S", str(PACKAGER), *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    """A handler directory (with byte-code caches, never packaged) and a shared directory."""
    return [write_tree(tmp_path / "handler", {**HANDLER_FILES, **BYTE_CODE}), write_tree(tmp_path / "shared", SHARED_FILES)]


def test_building_twice_gives_identical_bytes(sources: list[Path], tmp_path: Path) -> None:
    assert build(sources, tmp_path / "first.zip") == build(sources, tmp_path / "second.zip")


def test_a_copy_elsewhere_with_other_mtimes_and_modes_gives_identical_bytes(sources: list[Path], tmp_path: Path) -> None:
    original = build(sources, tmp_path / "original.zip")
    copies = [shutil.copytree(source, tmp_path / "another" / "checkout" / source.name) for source in sources]
    for number, path in enumerate(sorted(p for copy in copies for p in copy.rglob("*") if p.is_file())):
        os.utime(path, (1_700_000_000 + number * 3_600, 1_700_000_000 + number * 3_600))
        path.chmod(0o755 if number % 2 else 0o600)

    assert build(copies, tmp_path / "copy.zip") == original
    assert package.source_hash(package.collect(copies)) == package.source_hash(package.collect(sources))


def test_zip_holds_sorted_sources_with_fixed_metadata_stored(sources: list[Path], tmp_path: Path) -> None:
    build(sources, tmp_path / "function.zip")

    with zipfile.ZipFile(tmp_path / "function.zip") as archive:
        assert archive.namelist() == PACKAGED_NAMES  # sorted; no __pycache__/, no *.pyc
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.external_attr == 0o100644 << 16, info.filename
            assert info.create_system == 3, info.filename  # Unix, so the mode reads the same everywhere
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
        assert {name: archive.read(name) for name in archive.namelist()} == {**HANDLER_FILES, **SHARED_FILES}


def test_package_root_holds_handler_and_shared_modules(sources: list[Path], tmp_path: Path) -> None:
    build(sources, tmp_path / "function.zip")
    # Lambda puts the package root on sys.path; importing from the zip does the same.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import app; print(app.handler({}, None))", tmp_path / "function.zip"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "{'statusCode': 200, 'body': 'hello'}"


def test_committed_prebuilt_package_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    # tests/fixtures/lambda_route_prebuilt/function.zip was built from lambda_route_src earlier.
    fixtures = Path(__file__).parent / "fixtures"

    rebuilt = build([fixtures / "lambda_route_src"], tmp_path / "function.zip")

    assert rebuilt == (fixtures / "lambda_route_prebuilt" / "function.zip").read_bytes()


def test_source_hash_is_sha256_of_sorted_name_and_content_hash_lines(sources: list[Path]) -> None:
    # The formula main.tf implements with fileset and filesha256 (local.source_hash).
    contents = {**HANDLER_FILES, **SHARED_FILES}
    lines = sorted(f"{name} {hashlib.sha256(content).hexdigest()}" for name, content in contents.items())

    assert package.source_hash(package.collect(sources)) == hashlib.sha256("\n".join(lines).encode()).hexdigest()


def test_editing_one_file_changes_hash_and_bytes(sources: list[Path], tmp_path: Path) -> None:
    before_hash, before_bytes = package.source_hash(package.collect(sources)), build(sources, tmp_path / "before.zip")
    (sources[0] / "helpers" / "text.py").write_bytes(b"def greeting():\n    return 'hi'\n")

    assert package.source_hash(package.collect(sources)) != before_hash
    assert build(sources, tmp_path / "after.zip") != before_bytes


def test_renaming_a_file_changes_the_hash(sources: list[Path]) -> None:
    before = package.source_hash(package.collect(sources))
    (sources[1] / "responses.py").rename(sources[1] / "replies.py")

    assert package.source_hash(package.collect(sources)) != before


def test_symlinked_directories_and_files_are_packaged_like_terraform_fileset(tmp_path: Path) -> None:
    # fileset follows links to directories and files and skips dangling ones; so must the packager.
    shared = write_tree(tmp_path / "shared", SHARED_FILES)
    handler = write_tree(tmp_path / "handler", {"app.py": HANDLER_FILES["app.py"]})
    (handler / "common").symlink_to(shared, target_is_directory=True)
    (handler / "alias.py").symlink_to(handler / "app.py")
    (handler / "dangling.py").symlink_to(tmp_path / "nowhere.py")

    files = package.collect([handler])

    assert list(files) == ["alias.py", "app.py", "common/responses.py"]


def test_a_name_in_two_source_dirs_is_an_error(sources: list[Path]) -> None:
    write_tree(sources[1], {"helpers/text.py": b"# a second helpers/text.py\n"})

    with pytest.raises(SystemExit, match="helpers/text.py is in both") as refused:
        package.collect(sources)
    assert f"{sources[0]} and {sources[1]}" in str(refused.value)


def test_a_source_dir_with_nothing_to_package_is_an_error(sources: list[Path], tmp_path: Path) -> None:
    only_byte_code = write_tree(tmp_path / "compiled", BYTE_CODE)

    with pytest.raises(SystemExit, match=f"--source {only_byte_code}: no files to package"):
        package.collect([*sources, only_byte_code])


def test_cli_builds_the_package_and_reports_its_hash(sources: list[Path], tmp_path: Path) -> None:
    digest = package.source_hash(package.collect(sources))
    output = tmp_path / ".build" / "lambda" / f"fn-{digest[:16]}.zip"

    result = run_packager("--expect-hash", digest, "--source", sources[0], "--source", sources[1], output)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{output} {digest} 4 files\n"
    assert output.read_bytes() == build(sources, tmp_path / "in-process.zip")
    assert not output.with_name(output.name + ".partial").exists()


def test_cli_refuses_a_hash_mismatch_and_writes_nothing(sources: list[Path], tmp_path: Path) -> None:
    digest = package.source_hash(package.collect(sources))
    output = tmp_path / ".build" / "lambda" / "fn.zip"

    result = run_packager("--expect-hash", "0" * 64, "--source", sources[0], "--source", sources[1], output)

    assert result.returncode != 0
    assert f"--expect-hash {'0' * 64} does not match the sources ({digest})" in result.stderr
    assert not (tmp_path / ".build").exists()


def test_cli_names_a_missing_source_dir_and_writes_nothing(sources: list[Path], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    output = tmp_path / ".build" / "fn.zip"

    result = run_packager("--source", sources[0], "--source", missing, output)

    assert result.returncode != 0
    assert f"--source {missing}: not a directory" in result.stderr
    assert not (tmp_path / ".build").exists()


# File trees with nested names, dot files, non-ASCII names and byte-code caches mixed in.
SEGMENTS = st.sampled_from(["app.py", "lib", "mod.py", "__pycache__", "x.pyc", ".env", "données.txt", "a b.py", "__init__.py"])
NAMES = st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join)
TREES = st.dictionaries(NAMES, st.binary(max_size=64), min_size=1, max_size=8).filter(
    # A name cannot be both a file and a directory of another file.
    lambda tree: not any(other.startswith(name + "/") for name in tree for other in tree)
)


@settings(max_examples=30, deadline=None)
@given(tree=TREES)
def test_any_file_set_packages_the_same_bytes_wherever_and_however_it_was_written(tree: dict[str, bytes]) -> None:
    packaged = sorted(name for name in tree if "__pycache__" not in name.split("/")[:-1] and not name.endswith(".pyc"))
    assume(packaged)
    with tempfile.TemporaryDirectory() as tmp:
        first, second = Path(tmp, "first"), Path(tmp, "elsewhere", "second")
        write_tree(first, tree)
        # The same files written in the opposite order, with other times and modes.
        for number, name in enumerate(reversed(list(tree))):
            write_tree(second, {name: tree[name]})
            os.utime(second / name, (number * 86_400, number * 86_400))
            (second / name).chmod(0o700)

        first_bytes, second_bytes = build([first], Path(tmp, "1.zip")), build([second], Path(tmp, "2.zip"))

        assert first_bytes == second_bytes
        assert package.source_hash(package.collect([first])) == package.source_hash(package.collect([second]))
        with zipfile.ZipFile(Path(tmp, "1.zip")) as archive:
            assert archive.namelist() == packaged


# --- requirements.txt: dependencies installed for the function's platform ---------------------

def tiny_wheel(directory: Path) -> Path:
    """A pure-Python wheel with a console script (pip writes it to bin/ with this machine's
    interpreter in its first line), built by hand: offline, and nothing but the standard library."""
    files = {
        "tinydep/__init__.py": b"VERSION = '1.0'\ndef main():\n    print(VERSION)\n",
        "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "tinydep-1.0.dist-info/entry_points.txt": b"[console_scripts]\ntinydep = tinydep:main\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    ) + "tinydep-1.0.dist-info/RECORD,,\n"
    wheel = directory / "tinydep-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in {**files, "tinydep-1.0.dist-info/RECORD": record.encode()}.items():
            archive.writestr(name, data)
    return wheel


@pytest.fixture
def offline_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip resolves from a folder holding the tiny wheel only (no index, no network)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    tiny_wheel(wheels)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    return wheels


def test_requirements_are_installed_into_the_package_root_without_machine_traces(offline_index: Path, tmp_path: Path) -> None:
    handler = write_tree(tmp_path / "handler", {"app.py": b"import tinydep\n", "requirements.txt": b"tinydep==1.0  # pinned\n"})
    outputs = []
    for number in (1, 2):
        output = tmp_path / f"{number}.zip"
        result = run_packager("--source", handler, "--pip-platform", "manylinux2014_aarch64", "--python-version", "3.13", output)
        assert result.returncode == 0, result.stderr
        outputs.append(output.read_bytes())

    assert outputs[0] == outputs[1]  # the same requirements give the same bytes
    with zipfile.ZipFile(tmp_path / "1.zip") as archive:
        names = archive.namelist()
        record = archive.read("tinydep-1.0.dist-info/RECORD").decode()
    assert "app.py" in names and "requirements.txt" in names and "tinydep/__init__.py" in names
    # pip's bin/ script starts with this machine's interpreter path: neither it nor its RECORD line is packaged.
    assert not [n for n in names if n.startswith("bin/") or n.endswith(".pyc")]
    assert "../" not in record and "tinydep/__init__.py,sha256=" in record


@pytest.mark.parametrize(
    ("line", "refusal"),
    [
        ("tinydep", "'tinydep' is not pinned: write name==version so every build installs the same files"),
        ("tinydep>=1.0", "'tinydep>=1.0' is not pinned"),
        ("-r more.txt", "'-r more.txt': include files and editable installs are not packaged"),
        ("-e .", "'-e .': include files and editable installs are not packaged"),
    ],
)
def test_unpinned_or_included_requirements_are_refused(tmp_path: Path, line: str, refusal: str) -> None:
    handler = write_tree(tmp_path / "handler", {"app.py": b"", "requirements.txt": f"# dependencies\nsix==1.17.0\n{line}\n".encode()})

    result = run_packager("--source", handler, "--pip-platform", "manylinux2014_x86_64", "--python-version", "3.12", tmp_path / "fn.zip")

    assert result.returncode != 0
    assert f"{handler / 'requirements.txt'}:3: {refusal}" in result.stderr
    assert not (tmp_path / "fn.zip").exists()


def test_requirements_without_a_platform_are_refused(tmp_path: Path) -> None:
    handler = write_tree(tmp_path / "handler", {"app.py": b"", "requirements.txt": b"six==1.17.0\n"})

    result = run_packager("--source", handler, tmp_path / "fn.zip")

    assert result.returncode != 0
    assert "requirements need --pip-platform and --python-version (the function's platform)" in result.stderr


def test_a_dependency_clashing_with_a_source_file_is_an_error(offline_index: Path, tmp_path: Path) -> None:
    handler = write_tree(tmp_path / "handler", {"tinydep/__init__.py": b"# mine\n", "requirements.txt": b"tinydep==1.0\n"})

    result = run_packager("--source", handler, "--pip-platform", "manylinux2014_aarch64", "--python-version", "3.13", tmp_path / "fn.zip")

    assert result.returncode != 0
    assert "tinydep/__init__.py both in the sources and installed from" in result.stderr
