locals {
  # What each kind of client is allowed to do (see var.clients).
  oauth_flows     = { web = ["code"], spa = ["code"], machine = ["client_credentials"] }
  secret_by_kind  = { web = true, spa = false, machine = true }
  standard_scopes = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"]
  custom_scopes = flatten([
    for id, rs in var.resource_servers : [for scope in keys(rs.scopes) : "${id}/${scope}"]
  ])
  # Where Cognito may send a browser back (callback and logout URLs): https://<host>[/path][?query],
  # or http://localhost[:port][/path][?query] for development; never a #fragment (RFC 6749 3.1.2).
  redirect_url_pattern = "^(https://[^/?#\\s]+|http://localhost(:[0-9]+)?)([/?][^\\s#]*)?$"

  # The pool id is "<region>_<random>": its region names the regional endpoints. Hex of its hash
  # makes a unique default domain prefix that can never spell a reserved word (aws, amazon, cognito).
  region        = split("_", aws_cognito_user_pool.this.id)[0]
  domain_prefix = coalesce(var.domain_prefix, "${var.name}-${substr(sha256(aws_cognito_user_pool.this.id), 0, 12)}")
  # `endpoint` is cognito-idp.<region>.<partition DNS suffix>/<pool id>: the token issuer.
  issuer_url      = "https://${aws_cognito_user_pool.this.endpoint}"
  domain_base_url = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = var.mfa_configuration
  tags                     = var.tags

  username_configuration {
    case_sensitive = false
  }

  password_policy {
    minimum_length                   = var.password_policy.minimum_length
    require_lowercase                = var.password_policy.require_lowercase
    require_uppercase                = var.password_policy.require_uppercase
    require_numbers                  = var.password_policy.require_numbers
    require_symbols                  = var.password_policy.require_symbols
    temporary_password_validity_days = var.password_policy.temporary_password_validity_days
  }

  dynamic "software_token_mfa_configuration" {
    for_each = var.mfa_configuration == "OFF" ? [] : [true]
    content {
      enabled = true
    }
  }

  admin_create_user_config {
    allow_admin_create_user_only = !var.self_sign_up
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = local.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_resource_server" "this" {
  for_each = var.resource_servers

  identifier   = each.key
  name         = each.value.name
  user_pool_id = aws_cognito_user_pool.this.id

  dynamic "scope" {
    for_each = each.value.scopes
    content {
      scope_name        = scope.key
      scope_description = scope.value
    }
  }
}

resource "aws_cognito_user_pool_client" "this" {
  for_each = var.clients

  name            = each.key
  user_pool_id    = aws_cognito_user_pool.this.id
  generate_secret = coalesce(each.value.generate_secret, local.secret_by_kind[each.value.kind])

  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = local.oauth_flows[each.value.kind]
  allowed_oauth_scopes                 = each.value.scopes
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = each.value.kind == "machine" ? null : each.value.callback_urls
  logout_urls                          = each.value.kind == "machine" ? null : each.value.logout_urls

  # Users sign in through the managed login pages only; the SDK flows (USER_PASSWORD_AUTH, SRP)
  # stay off. Refresh is the one API flow a signed-in app needs.
  explicit_auth_flows           = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = each.value.access_token_validity_minutes
  id_token_validity      = each.value.id_token_validity_minutes
  refresh_token_validity = each.value.refresh_token_validity_minutes
  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "minutes"
  }

  # A client may only name scopes that exist; the resource servers are created first.
  depends_on = [aws_cognito_resource_server.this]

  lifecycle {
    precondition {
      condition     = length(setsubtract(each.value.scopes, concat(local.standard_scopes, local.custom_scopes))) == 0
      error_message = "clients[\"${each.key}\"] asks for scopes that neither OpenID Connect nor a resource server defines: ${join(", ", setsubtract(each.value.scopes, concat(local.standard_scopes, local.custom_scopes)))}. Known scopes: ${join(", ", concat(local.standard_scopes, local.custom_scopes))}."
    }
  }
}

resource "aws_cognito_user" "demo" {
  count = var.demo_user_email == null ? 0 : 1

  user_pool_id   = aws_cognito_user_pool.this.id
  username       = var.demo_user_email
  message_action = "SUPPRESS"
  attributes = {
    email          = var.demo_user_email
    email_verified = "true"
  }
}
