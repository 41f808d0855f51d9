"""local_aws/authorizer.py: JWT (spec A), IAM/SigV4 (spec E) and Lambda REQUEST authorizers.

Real RS256 keys from `cryptography`, JWKS built by PyJWT, tokens signed by PyJWT, requests signed by
botocore. Each test names the spec rule it checks; where the rule is UNCONFIRMED the test checks the
choice documented in the module, and says so.
"""
from __future__ import annotations

import json
import string
from urllib.parse import quote

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.utils import base64url_encode

from local_aws.authorizer import (
    Caller, Decision, HttpRequest, JwksCache, JwksUnavailable, NotEmulated, authorize_iam, authorize_jwt,
    evaluate_policies, resource_policy_problems, interpret_lambda_authorizer, lambda_authorizer_event, lambda_identity_missing,
    parse_jwks, stringify_claims,
)
from tests.support.keys import jwk, rsa_key
from tests.support.signing import sigv4_headers
from tests.support.tokens import hs256_with_public_key

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1"
CLIENT_ID = "5q1kqvd9c2uo3e8r0b7nlhf4gm"
OTHER_CLIENT_ID = "7abcdefghijklmnopqrstuvwxy"
NOW = 1_800_000_000
READ, WRITE = "notes-api/read", "notes-api/write"
AUDIENCE_401 = ('Bearer scope="" error="invalid_token" '
                'error_description="the token does not have a valid audience"')


# --------------------------------------------------------------------------------------------------
# keys, JWKS, tokens

@pytest.fixture(scope="module")
def rsa_keys() -> dict[str, rsa.RSAPrivateKey]:
    """k1 and k2 are the issuer's; k3 appears after a rotation; evil signs forgeries."""
    return {name: rsa_key() for name in ("k1", "k2", "k3", "evil")}


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class Issuer:
    """An issuer whose JWKS can change, counting how often it is fetched, behind a JwksCache on a fake clock."""

    def __init__(self, keys: dict, kids=("k1", "k2"), **cache_options) -> None:
        self.private = keys
        self.jwks = {"keys": [jwk(keys[kid], kid, alg="RS256") for kid in kids]}
        self.fetched = 0
        self.time = 1000.0
        self.cache = JwksCache(self.fetch, clock=lambda: self.time, **cache_options)

    def fetch(self, issuer: str) -> dict:
        self.fetched += 1
        if issuer != ISSUER:
            raise KeyError(issuer)  # what LocalCognito.jwks_for_issuer does for an unknown issuer
        return json.loads(json.dumps(self.jwks))

    def add(self, kid: str, **extra: str) -> None:
        self.jwks["keys"].append(jwk(self.private[kid], kid, **extra))


@pytest.fixture()
def issuer(rsa_keys) -> Issuer:
    return Issuer(rsa_keys)


def access_claims(**overrides) -> dict:
    """A Cognito user access token (D6): no aud, client_id, scope."""
    claims = {
        "sub": "7c2e9a41-3b5d-4f8e-a6c0-d19b2f7e4a53", "token_use": "access", "scope": f"openid profile {READ}",
        "auth_time": NOW - 60, "iss": ISSUER, "exp": NOW + 3600, "iat": NOW - 60, "jti": "0d6c1f3e",
        "origin_jti": "b4e2a7c1", "client_id": CLIENT_ID, "username": "demo-user",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


def id_claims(**overrides) -> dict:
    """A Cognito ID token (D6): aud = client id, no scope."""
    claims = {
        "sub": "7c2e9a41-3b5d-4f8e-a6c0-d19b2f7e4a53", "aud": CLIENT_ID, "email_verified": True, "token_use": "id",
        "auth_time": NOW - 60, "iss": ISSUER, "cognito:username": "demo-user", "exp": NOW + 3600, "iat": NOW - 60,
        "jti": "a1", "origin_jti": "b2", "email": "demo@example.com",
    }
    claims.update(overrides)
    return claims


def sign(rsa_keys, claims: dict, *, kid: str | None = "k1", key: str = "k1", alg: str = "RS256") -> str:
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(claims, rsa_keys[key], algorithm=alg, headers=headers)


def bearer(token: str | None, *, header: str = "authorization", prefix: str = "Bearer ") -> HttpRequest:
    headers = {"host": "127.0.0.1:4567", "user-agent": "pytest"}
    if token is not None:
        headers[header] = prefix + token
    return HttpRequest("GET", "/profile", "", headers, b"", "127.0.0.1")


def check(issuer: Issuer, request: HttpRequest, *, scopes=(READ,), audience=(CLIENT_ID,), now: float = NOW,
          identity_source: str = "$request.header.Authorization", **options) -> Decision:
    return authorize_jwt(request, issuer=ISSUER, audience=list(audience), identity_source=identity_source,
                         route_scopes=list(scopes), keys=issuer.cache, now=now, **options)


def assert_401(decision: Decision, description: str | None = None) -> None:
    assert (decision.allowed, decision.status, decision.body, decision.context) == (False, 401, {"message": "Unauthorized"}, None)
    challenge = decision.headers["www-authenticate"]
    assert challenge.startswith('Bearer scope="" error="invalid_token" error_description="'), challenge
    if description is not None:
        assert challenge == f'Bearer scope="" error="invalid_token" error_description="{description}"'


def assert_403(decision: Decision) -> None:
    assert (decision.allowed, decision.status, decision.body, decision.context) == (False, 403, {"message": "Forbidden"}, None)


# --------------------------------------------------------------------------------------------------
# A1: token source

def test_a1_bearer_access_token_is_accepted(issuer, rsa_keys) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, access_claims())))
    assert (decision.allowed, decision.status, decision.body, decision.headers) == (True, 200, {}, {})
    assert decision.context["jwt"]["claims"]["username"] == "demo-user"


def test_a1_bare_token_without_bearer_prefix_is_accepted(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims()), prefix="")).allowed


@pytest.mark.parametrize("prefix", ["bearer ", "Bearer  ", "BEARER ", " Bearer "])
def test_a1_other_prefix_spellings_are_refused_our_unconfirmed_choice(issuer, rsa_keys, prefix) -> None:
    """A1 leaves lower-case `bearer` / extra spaces UNCONFIRMED: the module refuses them (401), the safe side."""
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims()), prefix=prefix)), "the token is not a valid JWT")


@pytest.mark.parametrize("value", [None, "", "Bearer ", "Bearer"])
def test_a1_a4_missing_or_empty_token_is_401(issuer, value) -> None:
    request = bearer(None) if value is None else bearer(value, prefix="")
    decision = check(issuer, request)
    assert_401(decision)
    assert issuer.fetched == 0  # refused before any key is looked at


def test_a1_header_identity_source_is_case_insensitive(issuer, rsa_keys) -> None:
    token = sign(rsa_keys, access_claims())
    assert check(issuer, bearer(token, header="x-api-token"), identity_source="$request.header.X-Api-Token").allowed
    assert_401(check(issuer, bearer(token, header="authorization"), identity_source="$request.header.X-Api-Token"))


def test_a1_querystring_identity_source(issuer, rsa_keys) -> None:
    token = sign(rsa_keys, access_claims())
    request = HttpRequest("GET", "/profile", f"x=1&access_token={quote(token)}", {}, b"", "127.0.0.1")
    assert check(issuer, request, identity_source="$request.querystring.access_token").allowed
    assert_401(check(issuer, request, identity_source="$request.querystring.token"))


def test_a1_identity_source_not_emulated_is_a_loud_error(issuer, rsa_keys) -> None:
    request = bearer(sign(rsa_keys, access_claims()))
    with pytest.raises(NotEmulated):
        check(issuer, request, identity_source="$context.authorizer.token")
    with pytest.raises(NotEmulated):
        check(issuer, request, identity_source="Authorization")


# --------------------------------------------------------------------------------------------------
# A2.2: decodes as a JWT

def b64(data: bytes) -> str:
    return base64url_encode(data).decode()


RS256_HEADER = b64(b'{"alg":"RS256","kid":"k1"}')


@pytest.mark.parametrize("garbage", [
    "garbage", "a.b.c", f"{RS256_HEADER}.e30", f"{RS256_HEADER}.!!!!.c2ln", f"{RS256_HEADER}.e30.c2ln=x",
    f"{b64(b'[]')}.{b64(b'{}')}.c2ln",  # header is not a JSON object
    f"{RS256_HEADER}.{b64(b'[1]')}.c2ln",  # payload is not a JSON object
    f"{RS256_HEADER}.{b64(b'not json')}.c2ln",
])
def test_a2_2_bearer_garbage_is_401(issuer, garbage) -> None:
    assert_401(check(issuer, bearer(garbage)), "the token is not a valid JWT")
    assert issuer.fetched == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.=+/ ", max_size=300))
def test_a2_fuzzed_tokens_are_refused_and_never_crash(issuer, text) -> None:
    decision = check(issuer, bearer(text))
    assert (decision.allowed, decision.status) == (False, 401)


# --------------------------------------------------------------------------------------------------
# A2.3: algorithm and signature

def test_a2_3_signature_by_another_key_under_a_known_kid_is_401(issuer, rsa_keys) -> None:
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(), kid="k1", key="evil"))), "the token signature is invalid")


def test_a2_3_tampered_payload_is_401(issuer, rsa_keys) -> None:
    header, _, signature = sign(rsa_keys, access_claims()).split(".")
    forged = base64url_encode(json.dumps(access_claims(scope=f"{READ} {WRITE} admin")).encode()).decode()
    assert_401(check(issuer, bearer(f"{header}.{forged}.{signature}")), "the token signature is invalid")


def test_a2_3_alg_none_is_401(issuer) -> None:
    token = jwt.encode(access_claims(), None, algorithm="none", headers={"kid": "k1"})
    assert_401(check(issuer, bearer(token)), "the token is not signed with a supported algorithm")


def test_a2_3_hs256_signed_with_the_public_key_is_401(issuer, rsa_keys) -> None:
    """The classic key-confusion attack: HMAC keyed with the issuer's own public key (PEM, as published)."""
    token = hs256_with_public_key(rsa_keys["k1"].public_key(), "k1", access_claims())
    assert_401(check(issuer, bearer(token)), "the token is not signed with a supported algorithm")


def test_a2_3_es256_is_401(issuer, ec_key) -> None:
    token = jwt.encode(access_claims(), ec_key, algorithm="ES256", headers={"kid": "k1"})
    assert_401(check(issuer, bearer(token)), "the token is not signed with a supported algorithm")


def test_a2_3_ps256_is_refused_our_unconfirmed_choice(issuer, rsa_keys) -> None:
    """Whether AWS takes RSASSA-PSS is UNCONFIRMED; the module refuses it even with the right key."""
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(), alg="PS256"))),
               "the token is not signed with a supported algorithm")


def test_a2_3_rs384_and_rs512_verify_with_a_jwk_that_names_no_alg(rsa_keys) -> None:
    issuer = Issuer(rsa_keys, kids=())
    issuer.add("k1")  # no "alg" member
    for alg in ("RS384", "RS512"):
        assert check(issuer, bearer(sign(rsa_keys, access_claims(), alg=alg))).allowed


def test_a2_3_token_alg_must_match_the_alg_the_jwk_names(issuer, rsa_keys) -> None:
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(), alg="RS512"))),
               "the token is not signed with a supported algorithm")


def test_a2_3_token_without_kid_is_401(issuer, rsa_keys) -> None:
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(), kid=None))), "the token is not signed by a key of the issuer")


# --------------------------------------------------------------------------------------------------
# A5: the key cache

def test_a5_keys_are_fetched_once_per_issuer(issuer, rsa_keys) -> None:
    for kid in ("k1", "k2", "k1"):
        assert check(issuer, bearer(sign(rsa_keys, access_claims(), kid=kid, key=kid))).allowed
    assert issuer.fetched == 1
    assert issuer.cache.key(ISSUER, "k2").public_numbers() == rsa_keys["k2"].public_key().public_numbers()
    assert issuer.fetched == 1


def test_a5_unknown_kid_refetches_once_then_is_401_and_does_not_storm(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims()))).allowed
    stranger = bearer(sign(rsa_keys, access_claims(), kid="k3", key="k3"))
    assert_401(check(issuer, stranger), "the token is not signed by a key of the issuer")
    assert issuer.fetched == 2  # the first fetch, and one refetch for the unknown kid
    for _ in range(20):
        assert_401(check(issuer, stranger))
    assert issuer.fetched == 2  # no refetch storm inside min_refetch_interval_s
    issuer.time += 5.0
    assert_401(check(issuer, stranger))
    assert issuer.fetched == 3  # one more after the interval


def test_a5_rotation_new_kid_in_the_jwks_is_accepted_after_a_refetch(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims()))).allowed
    issuer.add("k3", alg="RS256")
    decision = check(issuer, bearer(sign(rsa_keys, access_claims(), kid="k3", key="k3")))
    assert decision.allowed, decision.reason
    assert issuer.fetched == 2


def test_a5_rotation_right_after_a_failed_refetch_waits_for_the_interval(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims()))).allowed
    rotated = bearer(sign(rsa_keys, access_claims(), kid="k3", key="k3"))
    assert_401(check(issuer, rotated))  # refetched, k3 not published yet
    issuer.add("k3", alg="RS256")
    assert_401(check(issuer, rotated))  # inside the interval: no refetch
    issuer.time += 5.0
    assert check(issuer, rotated).allowed


def test_a5_keys_expire_after_the_ttl(issuer, rsa_keys) -> None:
    token = bearer(sign(rsa_keys, access_claims()))
    assert check(issuer, token).allowed
    issuer.jwks["keys"] = [k for k in issuer.jwks["keys"] if k["kid"] != "k1"]  # k1 withdrawn
    issuer.time += 7199
    assert check(issuer, token).allowed  # still cached
    issuer.time += 1
    assert_401(check(issuer, token))
    assert issuer.fetched == 2


def test_a5_unknown_issuer_is_401_never_allowed(rsa_keys) -> None:
    issuer = Issuer(rsa_keys)
    token = sign(rsa_keys, access_claims(iss="https://elsewhere.example"))
    decision = authorize_jwt(bearer(token), issuer="https://elsewhere.example", audience=[CLIENT_ID],
                             identity_source="$request.header.Authorization", route_scopes=[READ],
                             keys=issuer.cache, now=NOW)
    assert_401(decision, "the token is not signed by a key of the issuer")
    assert "unavailable" in decision.reason


def test_a5_unreachable_jwks_is_401_and_retried_after_the_interval(rsa_keys) -> None:
    issuer = Issuer(rsa_keys)
    up = issuer.fetch

    def down(name: str) -> dict:
        issuer.fetched += 1
        raise JwksUnavailable("connection refused")

    issuer.cache._fetch = down
    token = bearer(sign(rsa_keys, access_claims()))
    assert_401(check(issuer, token))
    assert_401(check(issuer, token))
    assert issuer.fetched == 1
    issuer.cache._fetch = up
    issuer.time += 5.0
    assert check(issuer, token).allowed


def test_a5_jwks_over_150000_bytes_is_unavailable(rsa_keys) -> None:
    issuer = Issuer(rsa_keys)
    issuer.jwks["padding"] = "x" * 150_000
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims()))))
    with pytest.raises(JwksUnavailable):
        parse_jwks(json.dumps(issuer.jwks).encode())
    del issuer.jwks["padding"]
    assert len(json.dumps(issuer.jwks)) <= 150_000
    assert parse_jwks(json.dumps(issuer.jwks).encode()).keys() == {"k1", "k2"}


def test_a5_jwks_parsing_keeps_only_unambiguous_rsa_signing_keys(rsa_keys, ec_key) -> None:
    ec_jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec"}
    keys = parse_jwks({"keys": [
        jwk(rsa_keys["k1"], "k1", alg="RS256"),
        jwk(rsa_keys["k2"], "dup"), jwk(rsa_keys["k3"], "dup"),  # one kid, two keys: ambiguous
        jwk(rsa_keys["k2"], "enc", use="enc"),
        jwk(rsa_keys["k2"], "ps", alg="PS256"),
        ec_jwk, {"kty": "RSA"}, "junk",
    ]})
    assert keys.keys() == {"k1"}
    assert keys["k1"][0].public_numbers() == rsa_keys["k1"].public_key().public_numbers()


# --------------------------------------------------------------------------------------------------
# A2.4: issuer

@pytest.mark.parametrize("iss", [ISSUER + "/", ISSUER.replace("us-east-1_", "us-east-1_X"), ISSUER.upper(), None])
def test_a2_4_issuer_must_match_exactly(issuer, rsa_keys, iss) -> None:
    claims = access_claims(iss=iss) if iss else access_claims(iss=...)
    assert_401(check(issuer, bearer(sign(rsa_keys, claims))), "the token does not have a valid issuer")


def test_a2_order_first_failure_decides(issuer, rsa_keys) -> None:
    wrong_everything = access_claims(iss=ISSUER + "/", client_id="nobody", exp=NOW - 1, scope="none")
    assert_401(check(issuer, bearer(sign(rsa_keys, wrong_everything, key="evil"))), "the token signature is invalid")
    assert_401(check(issuer, bearer(sign(rsa_keys, wrong_everything))), "the token does not have a valid issuer")
    wrong_everything["iss"] = ISSUER
    assert_401(check(issuer, bearer(sign(rsa_keys, wrong_everything))), "the token does not have a valid audience")
    wrong_everything["client_id"] = CLIENT_ID
    assert_401(check(issuer, bearer(sign(rsa_keys, wrong_everything))), "the token has expired")
    wrong_everything["exp"] = NOW + 60
    assert_403(check(issuer, bearer(sign(rsa_keys, wrong_everything))))


# --------------------------------------------------------------------------------------------------
# A2.5: audience

def test_a2_5_wrong_aud_is_401_with_the_documented_description(issuer, rsa_keys) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, id_claims(aud=OTHER_CLIENT_ID))), scopes=())
    assert_401(decision)
    assert decision.headers == {"www-authenticate": AUDIENCE_401}


def test_a2_5_aud_present_and_wrong_while_client_id_right_is_401(issuer, rsa_keys) -> None:
    token = sign(rsa_keys, access_claims(aud=OTHER_CLIENT_ID))  # client_id is CLIENT_ID
    assert check(issuer, bearer(token)).headers == {"www-authenticate": AUDIENCE_401}


@pytest.mark.parametrize("aud", [[], None, 42, [42]])
def test_a2_5_aud_present_without_a_usable_value_is_401_even_with_client_id(issuer, rsa_keys, aud) -> None:
    """Our documented choice: any `aud` member counts as present, so client_id is not consulted."""
    assert check(issuer, bearer(sign(rsa_keys, access_claims(aud=aud)))).headers == {"www-authenticate": AUDIENCE_401}


def test_a2_5_aud_list_needs_one_configured_value(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, id_claims(aud=["someone", CLIENT_ID]))), scopes=()).allowed
    assert check(issuer, bearer(sign(rsa_keys, id_claims(aud=OTHER_CLIENT_ID))), scopes=(),
                 audience=(CLIENT_ID, OTHER_CLIENT_ID)).allowed
    assert_401(check(issuer, bearer(sign(rsa_keys, id_claims(aud=["a", "b"]))), scopes=()))


def test_a2_5_no_aud_and_client_id_right_is_accepted(issuer, rsa_keys) -> None:
    assert "aud" not in access_claims()
    assert check(issuer, bearer(sign(rsa_keys, access_claims()))).allowed


@pytest.mark.parametrize("client_id", [OTHER_CLIENT_ID, ..., 7])
def test_a2_5_no_aud_and_client_id_wrong_or_missing_is_401(issuer, rsa_keys, client_id) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims(client_id=client_id)))).headers == {"www-authenticate": AUDIENCE_401}


# --------------------------------------------------------------------------------------------------
# A2.6: times

def test_a2_6_expired_is_401(issuer, rsa_keys) -> None:
    token = bearer(sign(rsa_keys, access_claims(exp=NOW)))
    assert check(issuer, token, now=NOW - 1).allowed
    assert_401(check(issuer, token, now=NOW), "the token has expired")
    assert_401(check(issuer, token, now=NOW + 3600), "the token has expired")


def test_a2_6_nbf_in_the_future_is_401(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims(nbf=NOW)))).allowed
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(nbf=NOW + 1)))), "the token is not valid yet")


def test_a2_6_iat_in_the_future_is_401(issuer, rsa_keys) -> None:
    assert check(issuer, bearer(sign(rsa_keys, access_claims(iat=NOW)))).allowed
    assert_401(check(issuer, bearer(sign(rsa_keys, access_claims(iat=NOW + 1)))), "the token was issued in the future")


def test_a2_6_clock_skew_is_configurable_and_zero_by_default(issuer, rsa_keys) -> None:
    expired = bearer(sign(rsa_keys, access_claims(exp=NOW - 30)))
    early = bearer(sign(rsa_keys, access_claims(nbf=NOW + 30, iat=NOW + 30)))
    assert_401(check(issuer, expired))
    assert_401(check(issuer, early))
    assert check(issuer, expired, clock_skew_s=60).allowed
    assert check(issuer, early, clock_skew_s=60).allowed


@pytest.mark.parametrize("claims", [
    access_claims(exp=...), access_claims(exp=str(NOW + 3600)), access_claims(exp=True),
    access_claims(nbf="0"), access_claims(iat=None),
])
def test_a2_6_missing_or_non_numeric_times_are_401_our_choice(issuer, rsa_keys, claims) -> None:
    """Requiring a numeric exp (and numeric nbf/iat when present) is the module's documented, safe choice."""
    assert_401(check(issuer, bearer(sign(rsa_keys, claims))))


# --------------------------------------------------------------------------------------------------
# A2.7, A3: scopes; A4: 403

def test_a3_id_token_is_refused_on_a_scoped_route(issuer, rsa_keys) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, id_claims())), scopes=(READ,))
    assert_403(decision)
    assert decision.headers == {}


def test_a3_id_token_passes_a_route_without_scopes(issuer, rsa_keys) -> None:
    """Why every protected route has scopes: there is no token_use check."""
    decision = check(issuer, bearer(sign(rsa_keys, id_claims())), scopes=())
    assert decision.allowed
    assert decision.context["jwt"]["claims"]["token_use"] == "id"


def test_a2_7_access_token_without_the_route_scope_is_403(issuer, rsa_keys) -> None:
    assert_403(check(issuer, bearer(sign(rsa_keys, access_claims(scope="openid profile"))), scopes=(WRITE,)))


def test_a2_7_any_one_of_the_route_scopes_is_enough(issuer, rsa_keys) -> None:
    token = bearer(sign(rsa_keys, access_claims(scope=f"openid {WRITE}")))
    assert check(issuer, token, scopes=(READ, WRITE)).allowed
    assert_403(check(issuer, token, scopes=(READ, "admin")))


def test_a2_7_scope_match_is_exact_not_prefix(issuer, rsa_keys) -> None:
    assert_403(check(issuer, bearer(sign(rsa_keys, access_claims(scope="notes-api/read-only notes-api"))), scopes=(READ,)))


@pytest.mark.parametrize("scp", [[READ, "x"], f"x {READ}"])
def test_a2_7_scp_claim_is_read_when_there_is_no_scope(issuer, rsa_keys, scp) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, access_claims(scope=..., scp=scp))), scopes=(READ,))
    assert decision.allowed
    assert sorted(decision.context["jwt"]["scopes"]) == sorted([READ, "x"])


def test_a2_7_scope_and_scp_are_not_merged_our_choice(issuer, rsa_keys) -> None:
    assert_403(check(issuer, bearer(sign(rsa_keys, access_claims(scope="openid", scp=[READ]))), scopes=(READ,)))


@pytest.mark.parametrize("scope", [[READ], 1, None])
def test_a2_7_non_string_scope_grants_nothing(issuer, rsa_keys, scope) -> None:
    assert_403(check(issuer, bearer(sign(rsa_keys, access_claims(scope=scope))), scopes=(READ,)))


# --------------------------------------------------------------------------------------------------
# A6, A7: what reaches the function

def test_a6_claims_are_stringified(issuer, rsa_keys) -> None:
    claims = access_claims(
        exp=1787996002, iat=1787992402, auth_time=1787992402, ratio=1.5, big=1e20, admin=True, banned=False,
        groups=["admins", "users"], nested_list=[1, [2, "x"], {"k": 1}, True, None], empty=[],
        address={"street": "1 Main St", "geo": {"lat": 1.5}, "tags": ["a"]}, nothing=None,
        unicode="Zoë", scope=f"openid  {READ}",
    )
    decision = check(issuer, bearer(sign(rsa_keys, claims)), now=1787992402 + 5)
    assert decision.allowed, decision.reason
    got = decision.context["jwt"]["claims"]
    assert got["exp"] == "1787996002"
    assert got["iat"] == "1787992402"
    assert got["ratio"] == "1.5"
    assert got["big"] == "1e+20"
    assert (got["admin"], got["banned"]) == ("true", "false")
    assert got["groups"] == "[admins users]"
    assert got["nested_list"] == '[1 [2 x] {"k":1} true null]'
    assert got["empty"] == "[]"
    assert got["address"] == '{"street":"1 Main St","geo":{"lat":1.5},"tags":["a"]}'
    assert "nothing" not in got
    assert got["unicode"] == "Zoë"
    assert got["scope"] == f"openid  {READ}"  # kept raw, double space and all
    assert got["iss"] == ISSUER and got["client_id"] == CLIENT_ID
    assert all(isinstance(v, str) for v in got.values())


def test_a6_cognito_access_token_claims_match_the_recorded_event_shape(issuer, rsa_keys) -> None:
    with open("tests/events/profile_user_access_token.json") as recorded:
        expected = json.load(recorded)["requestContext"]["authorizer"]["jwt"]["claims"]
    numeric = {"auth_time", "exp", "iat"}
    claims = {k: (int(v) if k in numeric else v) for k, v in expected.items()}
    claims["iss"] = ISSUER
    decision = check(issuer, bearer(sign(rsa_keys, claims)), audience=(claims["client_id"],), scopes=(READ,),
                     now=claims["iat"] + 1)
    assert decision.context["jwt"]["claims"] == {**expected, "iss": ISSUER}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=8))
def test_a6_any_claims_stringify_to_str_to_str_and_drop_only_nulls(claims) -> None:
    out = stringify_claims(claims)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())
    assert out.keys() == {k for k, v in claims.items() if v is not None}
    for name, value in claims.items():
        if isinstance(value, str):
            assert out[name] == value
        elif isinstance(value, dict):
            assert json.loads(out[name]) == value
        elif isinstance(value, list):
            assert out[name].startswith("[") and out[name].endswith("]")


def test_a7_scopes_null_on_a_route_without_scopes(issuer, rsa_keys) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, access_claims())), scopes=())
    assert decision.context["jwt"]["scopes"] is None


def test_a7_scopes_are_the_tokens_full_list_not_the_intersection(issuer, rsa_keys) -> None:
    decision = check(issuer, bearer(sign(rsa_keys, access_claims(scope=f"openid profile {READ} {WRITE}"))), scopes=(READ,))
    assert decision.context == {"jwt": {"claims": decision.context["jwt"]["claims"],
                                        "scopes": ["openid", "profile", READ, WRITE]}}


# --------------------------------------------------------------------------------------------------
# E: IAM authorization (SigV4 by botocore, policies)

REGION, ACCOUNT = "us-east-1", "123456789012"
HOST = "127.0.0.1:4567"
ROUTE_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/$default/POST/notes"
ALLOW_INVOKE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*"}]}
ALICE = Caller("AKIAALICEEXAMPLE0001", "alice-secret/With+Slashes", f"arn:aws:iam::{ACCOUNT}:user/alice",
               "AIDAALICEEXAMPLE00001", "alice", ACCOUNT, [ALLOW_INVOKE])
BOB = Caller("AKIABOBEXAMPLE000002", "bob-secret", f"arn:aws:iam::{ACCOUNT}:user/bob", "AIDABOBEXAMPLE0000002", "bob",
             ACCOUNT, [])


def signed(method: str = "POST", path: str = "/notes", query: str = "", body: bytes = b'{"text":"hi"}',
           headers: dict | None = None, *, key: str = ALICE.access_key_id, secret: str = ALICE.secret_access_key,
           service: str = "execute-api", region: str = REGION, token: str | None = None) -> HttpRequest:
    access_key = {"AccessKeyId": key, "SecretAccessKey": secret, "SessionToken": token}
    target = path + (f"?{query}" if query else "")
    sent = {name.lower(): value for name, value in sigv4_headers(
        access_key, method, HOST, target, body, region, service=service,
        headers={"content-type": "application/json", **(headers or {})})}
    sent["host"] = HOST
    sent["user-agent"] = "pytest"  # not signed: botocore never signs user-agent
    return HttpRequest(method, path, query, sent, body, "127.0.0.1")


def callers(*known: Caller):
    by_key = {c.access_key_id: c for c in known}
    return by_key.get


def iam(request: HttpRequest, *, route_arn: str = ROUTE_ARN, known=(ALICE, BOB), now: float | None = None) -> Decision:
    return authorize_iam(request, host=HOST, region=REGION, route_arn=route_arn, find_caller=callers(*known), now=now)


def replace(request: HttpRequest, **changes) -> HttpRequest:
    return HttpRequest(**{**request.__dict__, **changes})


def test_e1_e2_signed_and_allowed_reaches_the_function_with_its_identity() -> None:
    decision = iam(signed())
    assert (decision.allowed, decision.status, decision.body) == (True, 200, {})
    assert decision.context == {"iam": {
        "accessKey": ALICE.access_key_id, "accountId": ACCOUNT, "callerId": ALICE.user_id, "cognitoIdentity": None,
        "principalOrgId": None, "userArn": ALICE.user_arn, "userId": ALICE.user_id,
    }}


def test_e1_signature_over_encoded_path_repeated_query_and_extra_signed_headers_verifies() -> None:
    request = signed("GET", "/notes/a%20b/%C3%A9", "z=1&a=x%2Fy&a=b&empty=", b"", headers={"x-custom": "  two   spaces "})
    assert request.headers["authorization"].count("x-custom") == 1
    decision = iam(request, route_arn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/$default/GET/notes/*")
    assert decision.allowed, decision.reason


def test_e2_unsigned_is_403() -> None:
    assert_403(iam(HttpRequest("POST", "/notes", "", {"host": HOST}, b"", "127.0.0.1")))


@pytest.mark.parametrize("change", ["secret", "unknown key"])
def test_e2_wrong_secret_or_unknown_key_is_403(change) -> None:
    request = signed(secret="not-alices-secret") if change == "secret" else signed(key="AKIANOBODYEXAMPLE999")
    decision = iam(request)
    assert_403(decision)
    assert ("mismatch" if change == "secret" else "unknown access key") in decision.reason


@pytest.mark.parametrize("tamper", [
    {"raw_path": "/admin"}, {"method": "PUT"}, {"raw_query": "extra=1"}, {"body": b'{"text":"bye"}'},
])
def test_e2_request_tampered_after_signing_is_403(tamper) -> None:
    request = signed()
    assert iam(request).allowed
    decision = iam(replace(request, **tamper))
    assert_403(decision)
    assert "signature mismatch" in decision.reason


def test_e2_signed_header_tampered_is_403_unsigned_header_is_free() -> None:
    request = signed(headers={"x-tenant": "alpha"})
    assert iam(replace(request, headers={**request.headers, "x-unsigned": "anything"})).allowed
    assert_403(iam(replace(request, headers={**request.headers, "x-tenant": "beta"})))
    assert_403(iam(replace(request, headers={k: v for k, v in request.headers.items() if k != "x-tenant"})))


def test_e2_body_tampered_with_its_declared_hash_kept_is_403() -> None:
    """x-amz-content-sha256 is never trusted as the body's hash (botocore's canonical_request would)."""
    import hashlib
    body = b'{"text":"hi"}'
    request = signed(body=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    assert iam(request).allowed
    assert_403(iam(replace(request, body=b'{"text":"evil"}')))


def test_e2_unsigned_payload_is_refused_as_not_emulated() -> None:
    assert_403(iam(signed(headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})))


@pytest.mark.parametrize("scope", [{"service": "s3"}, {"service": "execute-api", "region": "eu-west-1"}])
def test_e2_wrong_service_or_region_is_403(scope) -> None:
    decision = iam(signed(**scope))
    assert_403(decision)
    assert decision.reason.startswith("signed for")


def test_e2_request_time_more_than_15_minutes_off_is_403() -> None:
    import time
    request = signed()
    assert iam(request, now=time.time() + 14 * 60).allowed
    assert_403(iam(request, now=time.time() + 16 * 60))
    assert_403(iam(request, now=time.time() - 16 * 60))


def test_e2_temporary_credentials_are_refused_as_not_emulated() -> None:
    decision = iam(signed(token="session-token"))
    assert_403(decision)
    assert "not emulated" in decision.reason


@pytest.mark.parametrize("authorization", [
    "Bearer abc", "AWS4-HMAC-SHA256 Credential=AKIAALICEEXAMPLE0001/20300101/us-east-1/execute-api/aws4_request",
    "AWS4-ECDSA-P256-SHA256 Credential=x, SignedHeaders=host, Signature=00",
])
def test_e2_malformed_authorization_is_403(authorization) -> None:
    request = signed()
    assert_403(iam(replace(request, headers={**request.headers, "authorization": authorization})))


def test_e2_signed_for_another_host_is_403() -> None:
    request = signed()
    assert_403(authorize_iam(request, host="evil.example:4567", region=REGION, route_arn=ROUTE_ARN,
                             find_caller=callers(ALICE)))


def test_e2_caller_without_invoke_permission_is_403() -> None:
    decision = iam(signed(key=BOB.access_key_id, secret=BOB.secret_access_key))
    assert_403(decision)
    assert "no statement allows" in decision.reason


def test_e2_caller_from_another_account_is_refused() -> None:
    stranger = Caller("AKIASTRANGER00000003", "s", "arn:aws:iam::999999999999:user/x", "AIDAX", "x", "999999999999",
                      [{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}])
    assert_403(iam(signed(key=stranger.access_key_id, secret="s"), known=(stranger,)))


def test_e2_explicit_deny_in_a_callers_policy_is_403() -> None:
    deny = {"Statement": [{"Effect": "Deny", "Action": "execute-api:*", "Resource": f"arn:aws:execute-api:*:*:api123/*/POST/*"}]}
    carol = Caller("AKIACAROLEXAMPLE0004", "c", f"arn:aws:iam::{ACCOUNT}:user/carol", "AIDAC", "carol", ACCOUNT,
                   [ALLOW_INVOKE, deny])
    decision = iam(signed(key=carol.access_key_id, secret="c"), known=(carol,))
    assert_403(decision)
    assert "explicit Deny" in decision.reason


def statement(effect: str = "Allow", **fields) -> dict:
    fields.setdefault("Action", "execute-api:Invoke")
    if "NotResource" not in fields:
        fields.setdefault("Resource", ROUTE_ARN)
    return {"Effect": effect, **fields}


@pytest.mark.parametrize(("statements", "effect"), [
    ([statement()], "Allow"),
    ([statement(Resource="*")], "Allow"),
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*")], "Allow"),
    ([statement(Resource="arn:aws:execute-api:*:*:api123/*/POST/notes")], "Allow"),
    ([statement(Resource="arn:aws:execute-api:*")], "Allow"),  # a segment-ending * runs across colons
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api12?/$default/POST/notes")], "Allow"),
    ([statement(Resource=[f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other/*", ROUTE_ARN])], "Allow"),
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*/GET/*")], "ImplicitDeny"),
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:API123/*")], "ImplicitDeny"),  # ARNs: case-sensitive
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/$default/POST/note?")], "Allow"),
    ([statement(Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/$default/POST/notes?")], "ImplicitDeny"),
    ([statement(Action="execute-api:*")], "Allow"),
    ([statement(Action="*")], "Allow"),
    ([statement(Action="EXECUTE-API:invoke")], "Allow"),  # actions: case-insensitive
    ([statement(Action="execute-api:Inv?ke")], "Allow"),
    ([statement(Action=["s3:GetObject", "execute-api:ManageConnections"])], "ImplicitDeny"),
    ([statement(Action=..., NotAction="s3:*")], "Allow"),
    ([statement(Action=..., NotAction=["execute-api:*"])], "ImplicitDeny"),
    ([statement(Resource=..., NotResource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other/*")], "Allow"),
    ([statement(Resource=..., NotResource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*")], "ImplicitDeny"),
    ([statement(), statement("Deny", Resource=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*")], "Deny"),
    ([statement("Deny", Resource="arn:aws:execute-api:*:*:other/*"), statement()], "Allow"),
    ([statement("Deny", Action=..., NotAction="execute-api:Invoke", Resource="*"), statement()], "Allow"),
    ([statement("Deny", Resource=..., NotResource="arn:aws:execute-api:*:*:other/*")], "Deny"),
    ([], "ImplicitDeny"),
])
def test_e1_policy_evaluation(statements, effect) -> None:
    cleaned = [{k: v for k, v in s.items() if v is not ...} for s in statements]
    result = evaluate_policies([{"Version": "2012-10-17", "Statement": cleaned}], action="execute-api:Invoke", resource=ROUTE_ARN)
    assert result.effect == effect, result.reason


@pytest.mark.parametrize(("statements", "effect"), [
    # statements that cannot be evaluated locally: an Allow does not allow, a Deny denies
    ([statement(Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}})], "ImplicitDeny"),
    ([statement(), statement("Deny", Resource="arn:aws:execute-api:*:*:other/*",
                             Condition={"Bool": {"aws:SecureTransport": "false"}})], "Deny"),
    ([statement(Resource="arn:aws:execute-api:*:*:${aws:username}/*")], "ImplicitDeny"),
    ([statement(), statement("Deny", Resource="arn:aws:execute-api:*:*:${aws:username}/*")], "Deny"),
    ([statement(Principal={"AWS": "*"})], "ImplicitDeny"),
    ([statement(Effect="allow")], "Deny"),
    ([{"Effect": "Allow", "Action": "execute-api:Invoke"}], "ImplicitDeny"),  # no Resource
    ([statement(Resource=[])], "ImplicitDeny"),
    # a wildcard in the service segment is not IAM: it never allows, and a Deny so written still denies
    ([statement(Resource=f"arn:aws:*:{REGION}:{ACCOUNT}:api123/*")], "ImplicitDeny"),
    ([statement(), statement("Deny", Resource=f"arn:aws:*:{REGION}:{ACCOUNT}:api123/*")], "Deny"),
])
def test_e1_statements_that_cannot_be_evaluated_fail_closed(statements, effect) -> None:
    result = evaluate_policies([{"Version": "2012-10-17", "Statement": statements}], action="execute-api:Invoke", resource=ROUTE_ARN)
    assert result.effect == effect, result.reason
    for element in ("Condition", "${"):
        if any(element in json.dumps(s) for s in statements) and effect == "Deny":
            assert "not evaluated locally" in result.reason


def test_e1_statement_may_be_a_single_object_and_documents_must_be_readable() -> None:
    single = {"Version": "2012-10-17", "Statement": statement()}
    assert evaluate_policies([single], action="execute-api:Invoke", resource=ROUTE_ARN).allowed
    for broken in ("not a policy", {"Version": "2012-10-17"}, {"Statement": "x"}):
        assert evaluate_policies([single, broken], action="execute-api:Invoke", resource=ROUTE_ARN).effect == "Deny"


# --------------------------------------------------------------------------------------------------
# Lambda REQUEST authorizers (payload 2.0)

LAMBDA_ROUTE_ARN = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/$default/GET/notes/42"
CONTEXT = {"accountId": ACCOUNT, "apiId": "api123", "http": {"method": "GET", "path": "/notes/42"}, "stage": "$default"}


def lambda_request(headers: dict | None = None, query: str = "") -> HttpRequest:
    base = {"host": HOST, "user-agent": "pytest", "authorization": "secret-token"}
    return HttpRequest("GET", "/notes/42", query, {**base, **(headers or {})}, b"", "127.0.0.1")


def test_lambda_event_has_the_payload_2_0_shape() -> None:
    request = lambda_request({"cookie": "a=1; b=2,c=3", "x-tenant": "t1"}, "q=one&q=two&msg=hello%20world&flag")
    event = lambda_authorizer_event(
        request, route_arn=LAMBDA_ROUTE_ARN, route_key="GET /notes/{id}",
        identity_sources=["$request.header.Authorization", "$request.querystring.msg", "$stageVariables.env"],
        request_context=CONTEXT, path_parameters={"id": "42"}, stage_variables={"env": "dev"},
    )
    assert event == {
        "version": "2.0", "type": "REQUEST", "routeArn": LAMBDA_ROUTE_ARN,
        "identitySource": ["secret-token", "hello world", "dev"],
        "routeKey": "GET /notes/{id}", "rawPath": "/notes/42", "rawQueryString": "q=one&q=two&msg=hello%20world&flag",
        "cookies": ["a=1", "b=2", "c=3"],
        "headers": {"host": HOST, "user-agent": "pytest", "authorization": "secret-token", "x-tenant": "t1"},
        "queryStringParameters": {"q": "one,two", "msg": "hello world", "flag": ""},
        "requestContext": CONTEXT, "pathParameters": {"id": "42"}, "stageVariables": {"env": "dev"},
    }


def test_lambda_event_omits_what_has_nothing_to_carry() -> None:
    event = lambda_authorizer_event(lambda_request(), route_arn=LAMBDA_ROUTE_ARN, route_key="$default", identity_sources=[],
                                    request_context=CONTEXT, path_parameters={}, stage_variables={})
    assert set(event) == {"version", "type", "routeArn", "routeKey", "rawPath", "rawQueryString", "headers", "requestContext"}


@pytest.mark.parametrize("sources", [["$request.header.X-Missing"], ["$request.header.Authorization", "$request.querystring.t"]])
def test_lambda_missing_identity_source_means_no_event_and_401(sources) -> None:
    assert lambda_authorizer_event(lambda_request(), route_arn=LAMBDA_ROUTE_ARN, route_key="$default", identity_sources=sources,
                                   request_context=CONTEXT, path_parameters={}, stage_variables={}) is None
    refusal = lambda_identity_missing(sources)
    assert (refusal.allowed, refusal.status, refusal.body) == (False, 401, {"message": "Unauthorized"})


def test_lambda_empty_identity_value_counts_as_missing() -> None:
    assert lambda_authorizer_event(lambda_request({"authorization": ""}), route_arn=LAMBDA_ROUTE_ARN, route_key="$default",
                                   identity_sources=["$request.header.Authorization"], request_context=CONTEXT,
                                   path_parameters={}, stage_variables={}) is None


def test_lambda_context_identity_source_is_not_emulated() -> None:
    with pytest.raises(NotEmulated):
        lambda_authorizer_event(lambda_request(), route_arn=LAMBDA_ROUTE_ARN, route_key="$default",
                                identity_sources=["$context.identity.sourceIp"], request_context=CONTEXT,
                                path_parameters={}, stage_variables={})


def test_lambda_simple_response_true_allows_with_its_context() -> None:
    decision = interpret_lambda_authorizer({"isAuthorized": True, "context": {"user": "u1", "n": 1, "deep": {"a": [1]}}},
                                           simple_responses=True, route_arn=LAMBDA_ROUTE_ARN)
    assert (decision.allowed, decision.status, decision.context) == (True, 200, {"lambda": {"user": "u1", "n": 1, "deep": {"a": [1]}}})
    bare = interpret_lambda_authorizer({"isAuthorized": True}, simple_responses=True, route_arn=LAMBDA_ROUTE_ARN)
    assert bare.context == {"lambda": None}


def test_lambda_simple_response_false_is_403() -> None:
    assert_403(interpret_lambda_authorizer({"isAuthorized": False, "context": {"x": 1}}, simple_responses=True,
                                           route_arn=LAMBDA_ROUTE_ARN))


def policy_response(effect: str, resource: str = LAMBDA_ROUTE_ARN, **extra) -> dict:
    return {"principalId": "user-1", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource, **extra}]}, "context": {"tier": "gold"}}


def test_lambda_policy_response_allow() -> None:
    decision = interpret_lambda_authorizer(policy_response("Allow", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*/GET/*"),
                                           simple_responses=False, route_arn=LAMBDA_ROUTE_ARN)
    assert (decision.allowed, decision.context) == (True, {"lambda": {"tier": "gold"}})


@pytest.mark.parametrize("response", [
    policy_response("Deny"),
    policy_response("Allow", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api123/*/POST/*"),
    policy_response("Allow", Condition={"StringEquals": {"aws:username": "u"}}),
    {**policy_response("Allow"), "policyDocument": {"Version": "2012-10-17", "Statement": [
        policy_response("Allow")["policyDocument"]["Statement"][0], {"Action": "*", "Effect": "Deny", "Resource": "*"}]}},
])
def test_lambda_policy_response_deny_is_403(response) -> None:
    assert_403(interpret_lambda_authorizer(response, simple_responses=False, route_arn=LAMBDA_ROUTE_ARN))


@pytest.mark.parametrize(("result", "simple"), [
    (None, True), ("allow", True), ([True], True), ({"isAuthorized": "true"}, True), ({}, True),
    ({"isAuthorized": True, "context": "ctx"}, True),
    (policy_response("Allow"), True),  # a policy response where simple responses are on
    ({"isAuthorized": True}, False),  # a simple response where a policy is expected
    ({k: v for k, v in policy_response("Allow").items() if k != "principalId"}, False),
    ({"principalId": "u", "policyDocument": {"Version": "2012-10-17"}}, False),
    ({"principalId": 7, "policyDocument": policy_response("Allow")["policyDocument"]}, False),
])
def test_lambda_malformed_response_is_500(result, simple) -> None:
    decision = interpret_lambda_authorizer(result, simple_responses=simple, route_arn=LAMBDA_ROUTE_ARN)
    assert (decision.allowed, decision.status, decision.body, decision.context) == (
        False, 500, {"message": "Internal Server Error"}, None)



# --- resource policies of REST APIs (spec H2, H5, H7) ------------------------------------------------

REST_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/orders/42"
VPCE = "vpce-0123456789abcdef0"


def private_policy(principal: object = "*") -> dict:
    """The documented private API policy (as modules/private_rest_api renders it)."""
    resource = "arn:aws:execute-api:us-east-1:123456789012:abc123/*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Allow", "Effect": "Allow", "Principal": principal, "Action": "execute-api:Invoke", "Resource": resource,
         "Condition": {"StringEquals": {"aws:SourceVpce": [VPCE]}}},
        {"Sid": "Deny", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource,
         "Condition": {"StringNotEquals": {"aws:SourceVpce": [VPCE]}}},
    ]}


def rest_verdict(policy: dict, context: dict, caller=None) -> str:
    return evaluate_policies([policy], action="execute-api:Invoke", resource=REST_ARN, context=context, caller=caller,
                             resource_policy=True).effect


@pytest.mark.parametrize(("context", "effect"), [
    ({"aws:sourcevpce": VPCE, "aws:sourcevpc": "vpc-1"}, "Allow"),
    ({"aws:sourcevpce": "vpce-0ffffffffffffffff", "aws:sourcevpc": "vpc-1"}, "Deny"),  # another endpoint
    ({}, "Deny"),  # the internet: no aws:SourceVpce, so StringNotEquals holds (IAM's rule for absent keys)
])
def test_private_api_policy_allows_only_its_endpoint(context: dict, effect: str) -> None:
    assert rest_verdict(private_policy(), context) == effect


def test_resource_policy_principals_name_signed_callers_only() -> None:
    named = private_policy({"AWS": ["arn:aws:iam::123456789012:user/reindexer"]})
    through = {"aws:sourcevpce": VPCE}
    assert rest_verdict(named, through, ("arn:aws:iam::123456789012:user/reindexer", "123456789012")) == "Allow"
    assert rest_verdict(named, through, ("arn:aws:iam::123456789012:user/other", "123456789012")) == "ImplicitDeny"
    assert rest_verdict(named, through, None) == "ImplicitDeny"  # anonymous
    account = private_policy({"AWS": "123456789012"})
    assert rest_verdict(account, through, ("arn:aws:iam::123456789012:user/other", "123456789012")) == "Allow"


def test_condition_operators_on_absent_keys_follow_iam() -> None:
    def allow(condition: dict) -> dict:
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                                                        "Resource": "*", "Condition": condition}]}
    assert rest_verdict(allow({"StringEquals": {"aws:SourceVpce": VPCE}}), {}) == "ImplicitDeny"
    assert rest_verdict(allow({"StringEqualsIfExists": {"aws:SourceVpce": VPCE}}), {}) == "Allow"
    assert rest_verdict(allow({"StringLike": {"aws:SourceVpc": "vpc-*"}}), {"aws:sourcevpc": "vpc-9"}) == "Allow"
    assert rest_verdict(allow({"StringNotLike": {"aws:SourceVpc": "vpc-*"}}), {"aws:sourcevpc": "vpc-9"}) == "ImplicitDeny"


def test_identity_policies_still_refuse_every_condition() -> None:
    """Without a context (identity policies, spec E) a Condition is not evaluated: an Allow with one never allows."""
    policy = private_policy()
    del policy["Statement"][1]
    policy["Statement"][0].pop("Principal")
    assert evaluate_policies([policy], action="execute-api:Invoke", resource=REST_ARN).effect == "ImplicitDeny"


def test_resource_policy_problems_name_what_cannot_be_evaluated() -> None:
    policy = private_policy()
    policy["Statement"].append({"Sid": "Office", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                                "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}})
    policy["Statement"].append({"Sid": "Vpc", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                                "Resource": "*", "Condition": {"StringEquals": {"aws:VpcSourceIp": "10.0.0.1"}}})
    policy["Statement"].append({"Sid": "Nobody", "Effect": "Deny", "NotPrincipal": {"AWS": "x"}, "Action": "*", "Resource": "*"})
    assert resource_policy_problems(private_policy()) == []
    assert resource_policy_problems(policy) == [
        "statement Office: the condition operator NotIpAddress",
        "statement Vpc: the condition key aws:VpcSourceIp",
        "statement Nobody: NotPrincipal",
    ]
    # And an unevaluable Deny refuses everything (fail closed).
    assert rest_verdict(policy, {"aws:sourcevpce": VPCE}) == "Deny"


# --- Lambda function policies through the same evaluator (spec B6) ---------------------------------

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:profile"
ROUTE_SOURCE = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/profile"


def invoke_statement(condition: dict | None = None, principal: dict | str | None = None, effect: str = "Allow") -> dict:
    statement = {"Sid": "apigw", "Effect": effect, "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN,
                 "Principal": principal or {"Service": "apigateway.amazonaws.com"}}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def test_lambda_policy_arn_like_star_matches_any_source_arn() -> None:
    from local_aws.authorizer import arn_like, invoke_permitted
    assert arn_like("*", ROUTE_SOURCE)
    assert invoke_permitted([invoke_statement({"ArnLike": {"AWS:SourceArn": "*"}})], FUNCTION_ARN, ROUTE_SOURCE, "123456789012")


def test_lambda_policy_conditions_and_principals() -> None:
    from local_aws.authorizer import invoke_permitted
    source_like = {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/profile"}}
    account = {"StringEquals": {"AWS:SourceAccount": "123456789012"}}

    def permitted(statements: list, service: str = "apigateway.amazonaws.com") -> bool:
        return invoke_permitted(statements, FUNCTION_ARN, ROUTE_SOURCE, "123456789012", service=service)

    assert permitted([invoke_statement(source_like | account)])
    assert not permitted([invoke_statement({"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:other/*"}})])
    assert not permitted([invoke_statement({"StringEquals": {"AWS:SourceAccount": "210987654321"}})])
    assert permitted([invoke_statement({"ArnEquals": {"AWS:SourceArn": ROUTE_SOURCE}})])
    assert not permitted([invoke_statement(source_like)], service="cognito-idp.amazonaws.com")  # another service
    assert permitted([invoke_statement(principal={"Service": "cognito-idp.amazonaws.com"})], service="cognito-idp.amazonaws.com")
    # an explicit Deny wins; a condition this emulation cannot evaluate never allows, and as a Deny denies
    assert not permitted([invoke_statement(), invoke_statement(source_like, effect="Deny")])
    assert not permitted([invoke_statement({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})])
    assert not permitted([invoke_statement(), invoke_statement({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, effect="Deny")])
    # ArnLike on a key whose value is no ARN is not evaluated (fail closed)
    assert not permitted([invoke_statement({"ArnLike": {"AWS:SourceAccount": "*"}})])
