"""GET /hello, a public route: says hello and echoes the path and method it was called with."""
import apigw_http


def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    return apigw_http.json_response(
        200,
        {
            "message": "Hello from Lambda",
            # rawPath, not requestContext.http.path: on a named stage it shows the stage prefix too (spec B3).
            "path": event["rawPath"],
            "method": event["requestContext"]["http"]["method"],
        },
    )
