"""Functions for the embedded AWS: a deployment package's bytes and a role Lambda may assume."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Mapping

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def zip_of(files: Mapping[str, str | bytes]) -> bytes:
    """A zip with these entries (name: content), as CreateFunction's ZipFile takes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def lambda_role(iam, name: str) -> str:
    """The ARN of a new role named name that Lambda may assume (no policy attached)."""
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
