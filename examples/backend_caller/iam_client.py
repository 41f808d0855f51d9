"""A caller of the notes API's AWS_IAM route (GET /notes/stats): an AWS principal signs each request
with SigV4 for `execute-api` (spec E1), using botocore, which every AWS Lambda and AWS SDK for
Python install already has. No user, no token: the principal's IAM policy is the permission
(the root's `notes_operator_policy_arn` output is that policy).

    stats = NoteStatsClient("https://<api-id>.execute-api.<region>.amazonaws.com", region="eu-west-1")
    stats.count("<owner sub>")          # credentials from the usual chain: env, profile, role
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class NoteStatsClient:
    api_url: str
    region: str
    credentials: Credentials | None = None  # None: botocore's default chain

    def count(self, owner: str) -> dict[str, Any]:
        url = f"{self.api_url}/notes/stats?{urllib.parse.urlencode({'owner': owner})}"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(self._credentials(), "execute-api", self.region).add_auth(request)
        prepared = urllib.request.Request(url, headers=dict(request.headers), method="GET")
        try:
            with urllib.request.urlopen(prepared, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise PermissionError(f"{error.code}: {error.read().decode()[:200]}") from None

    def _credentials(self) -> Credentials:
        credentials = self.credentials or botocore.session.get_session().get_credentials()
        if credentials is None:
            raise PermissionError("no AWS credentials found to sign with")
        return credentials
