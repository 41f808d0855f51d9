"""SigV4 signatures as botocore makes them, for requests to an IAM-authorized route (spec E)."""
from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sigv4_headers(access_key: dict, method: str, host: str, target: str, body: bytes = b"",
                  region: str = "us-east-1", *, service: str = "execute-api", headers: dict | None = None,
                  ) -> list[tuple[str, str]]:
    """The headers of `method http://host/target` with headers, signed with access_key (an IAM
    CreateAccessKey result: AccessKeyId, SecretAccessKey and, for temporary credentials, SessionToken)."""
    request = AWSRequest(method=method, url=f"http://{host}{target}", data=body, headers=headers or {})
    credentials = Credentials(access_key["AccessKeyId"], access_key["SecretAccessKey"], access_key.get("SessionToken"))
    SigV4Auth(credentials, service, region).add_auth(request)
    return [(name, value) for name, value in request.headers.items()]
