"""GET /notes/stats (AWS_IAM): how many notes an owner has, for operators and other services.

No user signs in here: the caller is an AWS principal that signed the request with SigV4 and whose
IAM policy allows execute-api:Invoke on this route (spec E1-E2). `?owner=` names the owner's `sub`.
"""
import apigw_http
import notes_store
from apigw_http import ClientError

MAX_OWNER_CHARS = 128


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    caller = apigw_http.iam_caller(event)
    owner = apigw_http.query_parameter(event, "owner")
    if not owner:
        raise ClientError(400, "owner is required: ?owner=<the owner's sub>")
    if len(owner) > MAX_OWNER_CHARS or owner.startswith(notes_store.IDEMPOTENCY_PREFIX):
        raise ClientError(400, f"owner must be a user's or client's sub of at most {MAX_OWNER_CHARS} characters")
    return apigw_http.json_response(200, {"owner": owner, "notes": notes_store.count_notes(owner),
                                          "caller": caller["userArn"]})
