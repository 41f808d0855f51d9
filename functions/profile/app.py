"""GET /profile (JWT, notes-api/read): who the verified token says the caller is."""
import apigw_http


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    claims = apigw_http.jwt_claims(event)
    return apigw_http.json_response(
        200,
        {
            "message": "Authenticated profile response",
            "user": {
                "sub": claims["sub"],
                "username": apigw_http.caller_username(claims),
                "clientId": claims.get("client_id"),
            },
            "auth": {"tokenUse": claims.get("token_use"), "scopes": apigw_http.token_scopes(claims)},
        },
    )
