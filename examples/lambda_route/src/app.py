"""GET /hello: a public route that greets the caller (API Gateway payload format 2.0)."""
import json


def handler(event, context):
    # Query parameters arrive URL-decoded; the key is absent when there is no query string.
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": f"Hello, {name}!"}),
    }
