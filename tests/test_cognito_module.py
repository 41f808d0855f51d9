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


TRIGGER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:notes-pre-token"


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
        # A native app's scheme is for spa clients only, and never one a browser runs.
        "native-web": web_client(callback_urls=["myapp://callback"]),
        "spa-javascript": web_client(kind="spa", callback_urls=["javascript://alert(1)"]),
        "no-providers": web_client(supported_identity_providers=[]),
    },
    "managed_login_version": 3,
    "user_pool_tier": "FREE",
    "email_configuration": {"email_sending_account": "SES"},
    "lambda_triggers": {
        "pre_sign_up": "notes-pre-sign-up",
        "pre_token_generation_config": {"lambda_arn": TRIGGER_ARN, "lambda_version": "V4_0"},
    },
    "groups": {
        "has space": {},
        "negative": {"precedence": -1},
        "bad-role": {"role_arn": "arn:aws:iam::123456789012:user/admin"},
        "long-description": {"description": "x" * 2049},
    },
    "custom_attributes": {
        "a_name_over_twenty_chars": {"type": "String"},
        "colour": {"type": "Text"},
        "nickname": {"type": "String", "min_length": 10, "max_length": 5},
        "flag": {"type": "Boolean", "min_value": 0},
        "score": {"type": "Number", "min_value": 10, "max_value": 1},
    },
    "identity_providers": {
        "Ldap": {"type": "LDAP"},
        "MyGoogle": {"type": "Google", "client_id": "google-client-id"},
        "_corp": {"type": "SAML", "metadata_url": "https://idp.example.com/metadata"},
        "NoClient": {"type": "OIDC", "issuer": "https://login.example.com"},
        "Insecure": {"type": "OIDC", "client_id": "oidc-client", "issuer": "http://login.example.com"},
        "Verb": {"type": "OIDC", "client_id": "oidc-client", "issuer": "https://login.example.com", "attributes_request_method": "PUT"},
        "NoMetadata": {"type": "SAML"},
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
    ' clients["bad-urls"] ftp://app.example.com/,'
    ' clients["native-web"] myapp://callback,'
    ' clients["spa-javascript"] javascript://alert(1):'
    " callback and logout URLs must be https://, or http://localhost for development, with no fragment;"
    " spa clients may also use a native app's own scheme (myapp://callback).",
    "client_names_a_provider": 'clients["no-providers"]: supported_identity_providers must name at least one provider'
    " (COGNITO for the pool's own users).",
    # D7: access and ID tokens 5 min to 24 h, refresh tokens 1 h to 10 years.
    "access_and_id_token_validity": 'clients["long-id"], clients["short-access"]: access and ID token validity must be'
    " between 5 and 1440 minutes (5 minutes to 1 day).",
    "refresh_token_validity": 'clients["long-refresh"], clients["short-refresh"]: refresh token validity must be'
    " between 60 and 5256000 minutes (1 hour to 10 years).",
    "client_name": 'clients["name/with/slashes"]: client names must be 1-128 letters, digits, spaces or + = , . @ - _.',
    "managed_login_version": "managed_login_version must be 1 (classic hosted UI) or 2 (managed login).",
    "user_pool_tier": "user_pool_tier must be LITE, ESSENTIALS or PLUS.",
    "email_sending_account": "email_configuration.email_sending_account must be COGNITO_DEFAULT or DEVELOPER.",
    "trigger_arn": "lambda_triggers pre_sign_up: a trigger is a Lambda function ARN"
    " (arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>]).",
    "pre_token_generation_version": "lambda_triggers.pre_token_generation_config.lambda_version must be V1_0, V2_0 or V3_0.",
    "group_name": 'groups["has space"]: group names must be 1-128 characters without spaces.',
    "group_precedence": 'groups["negative"]: precedence must be a whole number of at least 0.',
    "group_role": 'groups["bad-role"]: role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>).',
    "group_description": 'groups["long-description"]: description must be at most 2048 characters.',
    "custom_attribute_name": 'custom_attributes["a_name_over_twenty_chars"]: names must be 1-20 letters, digits,'
    " hyphens or underscores (without the custom: prefix).",
    "custom_attribute_type": 'custom_attributes["colour"]: type must be String, Number, DateTime or Boolean.',
    "custom_attribute_length": 'custom_attributes["nickname"]: a String\'s length range is 0 to 2048, with min_length <= max_length.',
    "custom_attribute_value_range_type": 'custom_attributes["flag"]: min_value and max_value apply to Number attributes only.',
    "custom_attribute_value_range": 'custom_attributes["score"]: min_value must not be greater than max_value.',
    "identity_provider_type": 'identity_providers["Ldap"]: type must be Google, OIDC or SAML.',
    "google_provider_name": 'identity_providers["MyGoogle"]: Cognito names a Google provider "Google"; use that key.',
    "identity_provider_name": 'identity_providers["_corp"]: provider names are 1-32 characters without spaces,'
    " not starting or ending with _, and not COGNITO.",
    "identity_provider_client_id": 'identity_providers["NoClient"]: Google and OIDC providers need the client_id Cognito signs in with.',
    "oidc_issuer": 'identity_providers["Insecure"]: an OIDC provider needs its https:// issuer.',
    "oidc_request_method": 'identity_providers["Verb"]: attributes_request_method must be GET or POST.',
    "saml_metadata": 'identity_providers["NoMetadata"]: a SAML provider needs its https:// metadata_url.',
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


# email_configuration is one object: its other rules need plans of their own, one bad value each
# (and only the rules named beside it break).
EMAIL_CASES = {
    "developer without an SES identity, and a malformed sender": (
        {"email_sending_account": "DEVELOPER", "from_email_address": "Notes no-reply at example.com"},
        [
            "email_configuration: DEVELOPER sends through Amazon SES and needs source_arn, the ARN of a verified SES identity.",
            "email_configuration: from_email_address and reply_to_email_address must be an email address, or Name <address>.",
        ],
    ),
    "Cognito's sender with SES-only settings": (
        {"source_arn": "arn:aws:iam::123456789012:user/mailer", "configuration_set": "notes-auth"},
        [
            "email_configuration.source_arn must be an SES identity ARN (arn:aws:ses:<region>:<account>:identity/<address or domain>).",
            "email_configuration: from_email_address and configuration_set need email_sending_account = DEVELOPER"
            " (Cognito's own sender takes neither).",
        ],
    ),
}


@pytest.mark.parametrize("case", EMAIL_CASES)
def test_email_configuration_rules_reject_with_their_messages(tf, case: str) -> None:
    email_configuration, messages = EMAIL_CASES[case]
    errors = tf.root(MODULE).errors({"name": "notes", "email_configuration": email_configuration})
    assert sorted(e.split("\n", 1)[0] for e in errors) == sorted(f"Invalid value for variable: {m}" for m in messages), "\n".join(errors)


# Cross-input rules: preconditions, which run once every input is valid; one plan each, since a
# failing user pool stops the planning of everything that depends on it.
PRECONDITION_CASES = {
    "access token customisation on a LITE pool": (
        {"user_pool_tier": "LITE", "lambda_triggers": {"pre_token_generation_config": {"lambda_arn": TRIGGER_ARN}}},
        "lambda_triggers.pre_token_generation_config: event version V2_0 needs user_pool_tier ESSENTIALS or PLUS;"
        " LITE pools take V1_0 only.",
    ),
    "a client naming a provider the pool lacks": (
        {"clients": {"web": web_client(supported_identity_providers=["COGNITO", "Okta"])}},
        'clients["web"] names identity providers the pool does not have: Okta. Known: COGNITO.',
    ),
    "Google without its client secret": (
        {"identity_providers": {"Google": {"type": "Google", "client_id": "google-client-id"}}},
        'identity_providers["Google"]: a Google provider needs its client secret in identity_provider_client_secrets["Google"].',
    ),
}


@pytest.mark.parametrize("case", PRECONDITION_CASES)
def test_cross_input_rule_rejects_with_its_message(tf, case: str) -> None:
    inputs, message = PRECONDITION_CASES[case]
    errors = tf.root(MODULE).errors({"name": "notes", **inputs})
    assert [e.split("\n", 1)[0] for e in errors] == [f"Resource precondition failed: {message}"], "\n".join(errors)


def test_lite_pool_takes_the_v1_pre_token_generation_event(tf) -> None:
    trigger = {"pre_token_generation_config": {"lambda_arn": TRIGGER_ARN, "lambda_version": "V1_0"}}
    assert tf.root(MODULE).errors({"name": "notes", "user_pool_tier": "LITE", "lambda_triggers": trigger}) == []


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
