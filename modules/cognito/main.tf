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
  # A native app's own scheme (myapp://callback, com.example.app:/callback), which Cognito allows:
  # spa clients only, never a scheme a browser would run or load (javascript:, data:, file:...).
  native_app_url_pattern = "^(?i:[a-z][a-z0-9+.-]*):/[^\\s#]*$"
  not_native_schemes     = ["http", "https", "javascript", "data", "file", "vbscript", "blob", "about", "ftp"]

  # The pool id is "<region>_<random>": its region names the regional endpoints. Hex of its hash
  # makes a unique default domain prefix that can never spell a reserved word (aws, amazon, cognito).
  region        = split("_", aws_cognito_user_pool.this.id)[0]
  domain_prefix = coalesce(var.domain_prefix, "${var.name}-${substr(sha256(aws_cognito_user_pool.this.id), 0, 12)}")
  # `endpoint` is cognito-idp.<region>.<partition DNS suffix>/<pool id>: the token issuer.
  issuer_url      = "https://${aws_cognito_user_pool.this.endpoint}"
  domain_base_url = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${local.region}.amazoncognito.com"
  # What the domain serves, in the words AWS uses for each version.
  login_ui = var.managed_login_version == 2 ? "managed login" : "hosted UI"

  # Triggers set by a plain ARN, by the lambda_config argument they set.
  simple_triggers = { for name, arn in var.lambda_triggers : name => arn if name != "pre_token_generation_config" && arn != null }
  # Every function Cognito invokes, by trigger: each gets its own invoke permission.
  trigger_functions = merge(
    local.simple_triggers,
    var.lambda_triggers.pre_token_generation_config == null ? {} : { pre_token_generation = var.lambda_triggers.pre_token_generation_config.lambda_arn },
  )
  identity_provider_names = keys(var.identity_providers)
}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  mfa_configuration        = var.mfa_configuration
  user_pool_tier           = var.user_pool_tier
  tags                     = var.tags

  dynamic "email_configuration" {
    for_each = var.email_configuration == null ? [] : [var.email_configuration]
    content {
      email_sending_account  = email_configuration.value.email_sending_account
      source_arn             = email_configuration.value.source_arn
      from_email_address     = email_configuration.value.from_email_address
      reply_to_email_address = email_configuration.value.reply_to_email_address
      configuration_set      = email_configuration.value.configuration_set
    }
  }

  dynamic "lambda_config" {
    for_each = length(local.trigger_functions) == 0 ? [] : [true]
    content {
      pre_sign_up                    = var.lambda_triggers.pre_sign_up
      post_confirmation              = var.lambda_triggers.post_confirmation
      pre_authentication             = var.lambda_triggers.pre_authentication
      post_authentication            = var.lambda_triggers.post_authentication
      custom_message                 = var.lambda_triggers.custom_message
      user_migration                 = var.lambda_triggers.user_migration
      define_auth_challenge          = var.lambda_triggers.define_auth_challenge
      create_auth_challenge          = var.lambda_triggers.create_auth_challenge
      verify_auth_challenge_response = var.lambda_triggers.verify_auth_challenge_response
      # Cognito reports the function in both places: set both, or every plan shows a change.
      pre_token_generation = try(var.lambda_triggers.pre_token_generation_config.lambda_arn, null)

      dynamic "pre_token_generation_config" {
        for_each = var.lambda_triggers.pre_token_generation_config == null ? [] : [var.lambda_triggers.pre_token_generation_config]
        content {
          lambda_arn     = pre_token_generation_config.value.lambda_arn
          lambda_version = pre_token_generation_config.value.lambda_version
        }
      }
    }
  }

  # Constraints are always written: without them the provider plans a change on every run.
  dynamic "schema" {
    for_each = var.custom_attributes
    content {
      name                     = schema.key
      attribute_data_type      = schema.value.type
      mutable                  = schema.value.mutable
      developer_only_attribute = schema.value.developer_only
      required                 = false # Cognito allows required on standard attributes only

      dynamic "string_attribute_constraints" {
        for_each = schema.value.type == "String" ? [schema.value] : []
        content {
          min_length = tostring(string_attribute_constraints.value.min_length)
          max_length = tostring(string_attribute_constraints.value.max_length)
        }
      }
      dynamic "number_attribute_constraints" {
        for_each = schema.value.type == "Number" ? [schema.value] : []
        content {
          min_value = number_attribute_constraints.value.min_value == null ? null : tostring(number_attribute_constraints.value.min_value)
          max_value = number_attribute_constraints.value.max_value == null ? null : tostring(number_attribute_constraints.value.max_value)
        }
      }
    }
  }

  lifecycle {
    precondition {
      # Access token customisation (V2_0) and machine token customisation (V3_0) are features of
      # the ESSENTIALS and PLUS plans.
      condition     = var.user_pool_tier != "LITE" || try(var.lambda_triggers.pre_token_generation_config.lambda_version, "V1_0") == "V1_0"
      error_message = "lambda_triggers.pre_token_generation_config: event version ${try(var.lambda_triggers.pre_token_generation_config.lambda_version, "")} needs user_pool_tier ESSENTIALS or PLUS; LITE pools take V1_0 only."
    }
  }

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
  domain                = local.domain_prefix
  user_pool_id          = aws_cognito_user_pool.this.id
  managed_login_version = var.managed_login_version
}

resource "aws_lambda_permission" "trigger" {
  for_each = local.trigger_functions

  # The pool id keeps statement ids apart when one function serves several pools.
  statement_id = "cognito-${replace(each.key, "_", "-")}-${aws_cognito_user_pool.this.id}"
  action       = "lambda:InvokeFunction"
  # An alias or version ARN (...:function:<name>:<qualifier>) grants on that qualifier.
  function_name = join(":", slice(split(":", each.value), 0, 7))
  qualifier     = length(split(":", each.value)) == 8 ? split(":", each.value)[7] : null
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.this.arn
}

resource "aws_cognito_user_group" "this" {
  for_each = var.groups

  name         = each.key
  user_pool_id = aws_cognito_user_pool.this.id
  precedence   = each.value.precedence
  role_arn     = each.value.role_arn
  description  = each.value.description
}

resource "aws_cognito_identity_provider" "this" {
  for_each = var.identity_providers

  user_pool_id      = aws_cognito_user_pool.this.id
  provider_name     = each.key
  provider_type     = each.value.type
  attribute_mapping = each.value.attribute_mapping
  idp_identifiers   = length(each.value.idp_identifiers) == 0 ? null : each.value.idp_identifiers

  provider_details = (
    each.value.type == "SAML" ? {
      MetadataURL = each.value.metadata_url
      IDPSignout  = tostring(each.value.idp_signout)
    } :
    each.value.type == "OIDC" ? merge({
      client_id                 = each.value.client_id
      oidc_issuer               = each.value.issuer
      authorize_scopes          = each.value.authorize_scopes
      attributes_request_method = each.value.attributes_request_method
    }, contains(keys(var.identity_provider_client_secrets), each.key) ? { client_secret = var.identity_provider_client_secrets[each.key] } : {}) :
    {
      client_id        = each.value.client_id
      client_secret    = lookup(var.identity_provider_client_secrets, each.key, "")
      authorize_scopes = each.value.authorize_scopes
    }
  )

  lifecycle {
    precondition {
      condition     = each.value.type != "Google" || contains(keys(var.identity_provider_client_secrets), each.key)
      error_message = "identity_providers[${jsonencode(each.key)}]: a Google provider needs its client secret in identity_provider_client_secrets[${jsonencode(each.key)}]."
    }
  }
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
  supported_identity_providers         = each.value.supported_identity_providers
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

  # A client may only name scopes and providers that exist: they are created first.
  depends_on = [aws_cognito_resource_server.this, aws_cognito_identity_provider.this]

  lifecycle {
    precondition {
      condition     = length(setsubtract(each.value.scopes, concat(local.standard_scopes, local.custom_scopes))) == 0
      error_message = "clients[\"${each.key}\"] asks for scopes that neither OpenID Connect nor a resource server defines: ${join(", ", setsubtract(each.value.scopes, concat(local.standard_scopes, local.custom_scopes)))}. Known scopes: ${join(", ", concat(local.standard_scopes, local.custom_scopes))}."
    }
    precondition {
      condition     = length(setsubtract(each.value.supported_identity_providers, concat(["COGNITO"], local.identity_provider_names))) == 0
      error_message = "clients[\"${each.key}\"] names identity providers the pool does not have: ${join(", ", setsubtract(each.value.supported_identity_providers, concat(["COGNITO"], local.identity_provider_names)))}. Known: ${join(", ", concat(["COGNITO"], local.identity_provider_names))}."
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
