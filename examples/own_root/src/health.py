"""GET /health: public; says which stage answered."""
import json


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"status": "ok", "stage": event["requestContext"]["stage"]}),
    }
