"""The code an execution environment runs, on disk: each function's package (by its CodeSha256),
its layers (by version ARN) and /opt (by its list of layers), and the AWS SDK folder (see
runtime.py's docstring for what is emulated). Written once, read-only, shared by the environments
of every runtime that uses the same work dir."""
from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import uuid
import zipfile
from pathlib import Path

from local_aws import aws
from local_aws.runtime_model import Function, LambdaRuntimeError

# What an environment may import besides the standard library, its package and its layers: the
# AWS SDK for Python, as Lambda's Python runtimes include it (with what it requires).
SDK_DISTRIBUTIONS = ("boto3",)


# --- what an environment may import ---------------------------------------------------------------

def _sdk_distributions(roots: tuple[str, ...] = SDK_DISTRIBUTIONS) -> list[importlib.metadata.Distribution]:
    """The installed distributions of the AWS SDK for Python and everything they require (but
    their extras), from their metadata."""
    found: dict[str, importlib.metadata.Distribution] = {}
    wanted = list(roots)
    while wanted:
        name = re.sub(r"[-_.]+", "-", wanted.pop()).lower()
        if name in found:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if name in roots:
                raise LambdaRuntimeError(f"{name} is not installed: the execution environments need the AWS SDK for Python") from None
            continue  # required only on another Python or platform (a marker this one does not meet)
        found[name] = distribution
        for requirement in distribution.requires or ():
            spec, _, marker = requirement.partition(";")
            if "extra" not in marker:
                wanted.append(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec).group(1))
    return [found[name] for name in sorted(found)]


@functools.cache
def _sdk_entries() -> tuple[tuple[str, Path], ...]:
    """The top-level modules and .dist-info folders of the SDK's distributions, from their RECORD
    (read as text: botocore lists thousands of files). Once per process: the venv stays put."""
    entries: dict[str, Path] = {}
    for distribution in _sdk_distributions():
        record = distribution.read_text("RECORD")
        if record is None:
            raise LambdaRuntimeError(f"{distribution.metadata['Name']} has no RECORD: cannot tell its files apart")
        for line in record.splitlines():
            top = line.split(",", 1)[0].strip('"').split("/", 1)[0]
            if top and top not in entries and top not in ("..", "__pycache__") and not top.endswith(".pth"):
                entries[top] = Path(distribution.locate_file(top)).resolve()
    return tuple(sorted(entries.items()))


def sdk_dir(parent: Path) -> Path:
    """A folder holding only the AWS SDK's distributions (links to their top-level modules and
    .dist-info folders), one per set of installed versions: the only site-packages an environment sees."""
    entries = _sdk_entries()
    key = hashlib.sha256("\n".join(f"{name} {path}" for name, path in entries).encode()).hexdigest()[:32]
    target = parent / key
    if target.is_dir():
        return target
    partial = parent / f"{key}.{uuid.uuid4().hex}.partial"
    try:
        partial.mkdir(parents=True)
        for name, path in entries:
            (partial / name).symlink_to(path, target_is_directory=path.is_dir())
        os.rename(partial, target)
    except OSError:
        if not target.is_dir():  # else another runtime sharing work_dir made it first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _overlay(layer: Path, opt: Path) -> None:
    """Put a layer's files into opt, replacing what an earlier layer put at the same paths."""
    for folder, subfolders, files in os.walk(layer):
        target = opt / Path(folder).relative_to(layer)
        for name in subfolders:
            path = target / name
            if path.is_file() or path.is_symlink():
                path.unlink()
            path.mkdir(exist_ok=True)
        for name in files:
            path = target / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            try:
                os.link(Path(folder) / name, path)  # unpacked layers are read-only: sharing them is safe
            except OSError:
                shutil.copy2(Path(folder) / name, path)


class FunctionCode:
    """Where each function's code, layers and SDK are, under work_dir (code/, layers/, opt/, sdk/)."""

    def __init__(self, aws_endpoint: str, work_dir: Path) -> None:
        self.aws_endpoint = aws_endpoint
        self.work_dir = work_dir
        for folder in ("code", "layers", "opt", "sdk"):
            (work_dir / folder).mkdir(parents=True, exist_ok=True)
        self.sdk_dir = sdk_dir(work_dir / "sdk")
        self.layer_dirs: dict[str, Path] = {}              # unpacked layers, by version ARN
        self.opt_dirs: dict[tuple[str, ...], Path] = {}    # each function's /opt, by its layers

    def fetch(self, function: Function) -> bool:
        """Make the function's code and /opt ready; False when the code the embedded AWS gives is
        not the configuration's CodeSha256 (it changed in between: read the configuration again)."""
        if not self.code_dir(function).is_dir():
            status, code = aws.private(self.aws_endpoint, f"lambda/{function.region}/{function.name}/code")
            if status != 200:
                raise LambdaRuntimeError(
                    f"the embedded AWS did not give the code of {function.name}: {status} {code[:200]!r}")
            if base64.b64encode(hashlib.sha256(code).digest()).decode() != function.code_sha256:
                return False
            self.extract(code, self.code_dir(function))
        if function.layers:
            self.prepare_opt(function)
        return True

    def code_dir(self, function: Function) -> Path:
        return self.work_dir / "code" / base64.b64decode(function.code_sha256).hex()

    @staticmethod
    def extract(code: bytes, target: Path, what: str = "the deployed code") -> None:
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(partial)  # names are sanitised: nothing lands outside `partial`
                executable = {info.filename for info in archive.infolist() if (info.external_attr >> 16) & 0o111}
            for path in partial.rglob("*"):
                if path.is_file():  # read-only as /var/task and /opt are; executable if the zip says so
                    path.chmod(0o555 if path.relative_to(partial).as_posix() in executable else 0o444)
            os.rename(partial, target)
        except zipfile.BadZipFile as error:
            raise LambdaRuntimeError(f"{what} is not a zip file: {error}") from None
        except OSError:
            if not target.is_dir():  # else another runtime sharing work_dir extracted it first
                raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def prepare_opt(self, function: Function) -> Path:
        """The function's /opt: its layers unpacked in order, a later layer's files replacing an
        earlier one's, as Lambda extracts them. Built once per list of layers."""
        opt = self.opt_dirs.get(function.layers)
        if opt is not None:
            return opt
        layers = [self._layer_dir(function, arn) for arn in function.layers]
        key = hashlib.sha256("\n".join(layer.name for layer in layers).encode()).hexdigest()[:32]
        opt = self.work_dir / "opt" / key
        if not opt.is_dir():
            partial = opt.with_name(f"{opt.name}.{uuid.uuid4().hex}.partial")
            try:
                partial.mkdir()
                for layer in layers:
                    _overlay(layer, partial)
                os.rename(partial, opt)
            except OSError:
                if not opt.is_dir():  # else another runtime sharing work_dir built it first
                    raise
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        self.opt_dirs[function.layers] = opt
        return opt

    def _layer_dir(self, function: Function, arn: str) -> Path:
        """A layer version unpacked, read once per ARN (a layer version never changes on AWS) and
        kept on disk by the hash of its zip."""
        known = self.layer_dirs.get(arn)
        if known is not None:
            return known
        parts = arn.split(":")
        if len(parts) != 8 or parts[2] != "lambda" or parts[5] != "layer" or not parts[7].isdigit():
            raise LambdaRuntimeError(f"function {function.name}: {arn} is not a layer version ARN")
        region, layer, version = parts[3], parts[6], parts[7]
        status, code = aws.private(self.aws_endpoint, f"lambda/{region}/layers/{layer}/{version}/code")
        if status != 200:
            raise LambdaRuntimeError(
                f"function {function.name}: the embedded AWS did not give layer {arn}: {status} {code[:200]!r}")
        target = self.work_dir / "layers" / hashlib.sha256(code).hexdigest()
        if not target.is_dir():
            self.extract(code, target, f"layer {arn} of function {function.name}")
        self.layer_dirs[arn] = target
        return target

    def search_path(self, function: Function) -> list[str]:
        """What an environment of the function finds before the standard library, in Lambda's
        order: the function's package, its layers' python/lib/python3.x/site-packages and python
        (3.x: the runtime the function declares), the AWS SDK."""
        path = [str(self.code_dir(function))]
        if function.layers:
            opt = self.opt_dirs.get(function.layers)
            if opt is None:
                raise LambdaRuntimeError(f"the layers of {function.name} are not loaded: get the function with Runtime.function()")
            path += [str(opt / "python" / "lib" / function.runtime / "site-packages"), str(opt / "python")]
        return path + [str(self.sdk_dir)]
