"""GET /orders/{id} of the private REST API: a payload 1.0 Lambda proxy handler."""
import json


def handler(event, context):
    identity = event["requestContext"].get("identity") or {}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "orderId": (event.get("pathParameters") or {}).get("id"),
            "resource": event["resource"],
            "path": event["path"],
            "vpceId": identity.get("vpceId"),
            "caller": identity.get("userArn"),
        }),
    }
