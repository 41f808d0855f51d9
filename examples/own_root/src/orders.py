"""GET /orders/{id} and POST /orders, behind the Cognito JWT authorizer: the claims the handler
gets are those of a token API Gateway already checked (issuer, audience, expiry, scope)."""
import base64
import json
import uuid


def respond(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    caller = {"sub": claims["sub"], "client_id": claims["client_id"], "groups": claims.get("cognito:groups", "")}
    if event["routeKey"] == "GET /orders/{id}":
        return respond(200, {"id": event["pathParameters"]["id"], "status": "shipped", "caller": caller})
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    try:
        order = json.loads(raw)
    except ValueError:
        return respond(400, {"message": "the body must be JSON"})
    if not isinstance(order, dict) or not isinstance(order.get("item"), str) or not order["item"]:
        return respond(400, {"message": "item: a non-empty string is required"})
    return respond(201, {"id": str(uuid.uuid4()), "item": order["item"], "caller": caller})
