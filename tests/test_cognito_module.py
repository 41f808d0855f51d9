"""modules/cognito rejects bad inputs at plan time, with a message that names what is wrong.

Terraform reports every failed validation rule of a plan, so one plan holds one bad entry per
rule and each rule is its own test reading that plan's (cached) errors. Preconditions only run
once every variable is valid, so the scope precondition has a plan of its own. What valid inputs
plan to is in tests/inventories/cognito/*.yaml. Last, the README's tables list every input and output.
"""
from __future__ import annotations

import re

import pytest

from tests.tfharness import REPO

MODULE = "modules/cognito"

# Share a worker, and so the module's initialised copy and cached plans (its inventories plan
# tests/fixtures/cognito_cases, one module block per case).
pytestmark = pytest.mark.xdist_group(MODULE)

NOTES_API = {"notes-api": {"name": "Notes API", "scopes": {"read": "Read notes", "write": "Write notes"}}}
CALLBACK = ["https://app.example.com/callback"]


def web_client(**overrides) -> dict:
    """A valid web client; each bad entry below changes only what its rule is about."""
    return {"kind": "web", "scopes": ["openid"], "callback_urls": CALLBACK, **overrides}


# Every entry breaks exactly one rule, and every rule is broken (see test_each_bad_entry_breaks_one_rule).
ONE_BAD_ENTRY_PER_RULE = {
    "name": "Notes_Pool",
    "domain_prefix": "my-cognito-login",
    "mfa_configuration": "SMS",
    "password_policy": {"minimum_length": 6, "temporary_password_validity_days": 0},
    "demo_user_email": "not-an-email",
    "resource_servers": {
        "notes api": {"name": "Notes API", "scopes": {"read": "Read notes"}},
        "reports-api": {"name": "Reports API", "scopes": {"read/all": "Read every report", "read": "Read reports"}},
        "empty-api": {"name": "Empty API", "scopes": {}},
    },
    "clients": {
        "mobile": web_client(kind="mobile"),
        "no-scopes": web_client(kind="spa", scopes=[]),
        "secretless-machine": {"kind": "machine", "scopes": ["reports-api/read"], "generate_secret": False},
        "spa-with-secret": web_client(kind="spa", generate_secret=True),
        "machine-openid": {"kind": "machine", "scopes": ["openid", "reports-api/read"]},
        "web-no-callback": web_client(callback_urls=[]),
        "machine-callback": {"kind": "machine", "scopes": ["reports-api/read"], "logout_urls": ["https://app.example.com/"]},
        "bad-urls": web_client(
            callback_urls=["http://app.example.com/callback", "https://app.example.com#done", "https://app.example.com/ok"],
            logout_urls=["http://localhost.example.com/", "ftp://app.example.com/", "http://localhost:3000/ok"],
        ),
        "short-access": web_client(access_token_validity_minutes=4),
        "long-id": web_client(id_token_validity_minutes=1441),
        "short-refresh": web_client(refresh_token_validity_minutes=59),
        "long-refresh": web_client(refresh_token_validity_minutes=5256001),
        "name/with/slashes": web_client(),
    },
}

# The message each rule shows for ONE_BAD_ENTRY_PER_RULE: it starts with the variable (and the
# offending entries in it), so a user with many clients knows which one to fix.
VALIDATION_MESSAGES = {
    "name": "name must be 1-40 lower-case letters, digits or inner hyphens, without aws, amazon or cognito"
    " (it starts the Cognito domain prefix).",
    "domain_prefix": "domain_prefix must be 1-63 lower-case letters, digits or inner hyphens, and may not contain"
    " aws, amazon or cognito.",
    "mfa_configuration": "mfa_configuration must be OFF, OPTIONAL or ON.",
    "password_minimum_length": "password_policy.minimum_length must be between 8 and 99"
    " (Cognito allows 6; fewer than 8 is not a sound policy).",
    "password_temporary_validity": "password_policy.temporary_password_validity_days must be between 1 and 365.",
    "demo_user_email": "demo_user_email must be an email address.",
    "resource_server_identifier": 'resource_servers["notes api"]: identifiers must be 1-256 printable characters'
    " without spaces, quotes or backslashes.",
    "resource_server_scope_name": 'resource_servers["reports-api"] scope "read/all": scope names must be 1-256'
    " printable characters without spaces, quotes, slashes or backslashes.",
    "resource_server_scope_count": 'resource_servers["empty-api"]: each resource server needs 1 to 100 scopes.',
    "client_kind": 'clients["mobile"]: kind must be web, spa or machine.',
    "client_needs_a_scope": 'clients["no-scopes"]: a client needs at least one OAuth scope (with none it can obtain no token).',
    # D3: client_credentials needs a secret and only custom (resource server) scopes.
    "machine_has_a_secret": 'clients["secretless-machine"]: a machine (client_credentials) client must have a secret;'
    " leave generate_secret unset or true.",
    "machine_custom_scopes_only": 'clients["machine-openid"]: a machine (client_credentials) client may only ask for'
    " resource-server scopes, <identifier>/<scope>.",
    "spa_has_no_secret": 'clients["spa-with-secret"]: a spa (public PKCE) client has no secret, since a browser cannot'
    " keep one; leave generate_secret unset or false.",
    # D2: the authorization code goes to a registered redirect URI.
    "user_client_needs_a_callback": 'clients["web-no-callback"]: web and spa clients need at least one callback URL.',
    "machine_takes_no_urls": 'clients["machine-callback"]: a machine client signs no user in, so it takes no callback'
    " or logout URLs.",
    "redirect_urls_https_or_localhost": 'clients["bad-urls"] http://app.example.com/callback,'
    ' clients["bad-urls"] https://app.example.com#done,'
    ' clients["bad-urls"] http://localhost.example.com/,'
    ' clients["bad-urls"] ftp://app.example.com/:'
    " callback and logout URLs must be https://, or http://localhost for development, with no fragment.",
    # D7: access and ID tokens 5 min to 24 h, refresh tokens 1 h to 10 years.
    "access_and_id_token_validity": 'clients["long-id"], clients["short-access"]: access and ID token validity must be'
    " between 5 and 1440 minutes (5 minutes to 1 day).",
    "refresh_token_validity": 'clients["long-refresh"], clients["short-refresh"]: refresh token validity must be'
    " between 60 and 5256000 minutes (1 hour to 10 years).",
    "client_name": 'clients["name/with/slashes"]: client names must be 1-128 letters, digits, spaces or + = , . @ - _.',
}


@pytest.fixture
def rejected(tf) -> list[str]:
    """Errors of the plan with one bad entry per rule (planned once per worker)."""
    return tf.root(MODULE).errors(ONE_BAD_ENTRY_PER_RULE)


@pytest.mark.parametrize("message", VALIDATION_MESSAGES.values(), ids=VALIDATION_MESSAGES.keys())
def test_validation_rule_rejects_its_bad_entry(rejected: list[str], message: str) -> None:
    # The detail is the rule's message, then where the rule is: match the whole message.
    assert any(error.startswith(f"Invalid value for variable: {message}\n") for error in rejected), "\n".join(rejected)


def test_each_bad_entry_breaks_one_rule(rejected: list[str]) -> None:
    # One error per rule and no other: no rule fires on an entry meant for another rule.
    assert len(rejected) == len(VALIDATION_MESSAGES), "\n".join(rejected)


# Valid variables, but each client asks for a scope that nothing defines: a typo of a standard
# scope, an unknown scope of a known resource server, a scope of an unknown resource server.
UNDEFINED_SCOPES = {
    "name": "notes",
    "resource_servers": NOTES_API,
    "clients": {
        "web": web_client(scopes=["openid", "notes-api/delete"]),
        "spa": web_client(kind="spa", scopes=["openid", "emails"]),
        "machine": {"kind": "machine", "scopes": ["notes-api/read", "reports-api/read"]},
    },
}
KNOWN_SCOPES = "openid, email, phone, profile, aws.cognito.signin.user.admin, notes-api/read, notes-api/write"


@pytest.mark.parametrize(
    ("client", "undefined"),
    [("web", "notes-api/delete"), ("spa", "emails"), ("machine", "reports-api/read")],
)
def test_scopes_a_client_asks_for_must_be_defined(tf, client: str, undefined: str) -> None:
    errors = tf.root(MODULE).errors(UNDEFINED_SCOPES)
    expected = (
        f'Resource precondition failed: clients["{client}"] asks for scopes that neither OpenID Connect nor a resource'
        f" server defines: {undefined}. Known scopes: {KNOWN_SCOPES}."
    )
    assert expected in errors, "\n".join(errors)
    assert len(errors) == 3, "\n".join(errors)


def _table_names(readme: str, heading: str) -> set[str]:
    """The first-column names of the markdown table under a README heading."""
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.M))


def test_readme_documents_every_input_and_output() -> None:
    module = REPO / MODULE
    readme = (module / "README.md").read_text()
    assert _table_names(readme, "Inputs") == set(re.findall(r'^variable "(\w+)"', (module / "variables.tf").read_text(), re.M))
    assert _table_names(readme, "Outputs") == set(re.findall(r'^output "(\w+)"', (module / "outputs.tf").read_text(), re.M))
