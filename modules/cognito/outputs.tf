output "user_pool_id" {
  description = "ID of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "issuer_url" {
  description = "Token issuer (the iss claim), for JWT authorizers: https://cognito-idp.<region>.amazonaws.com/<pool id>."
  value       = local.issuer_url
}

output "jwks_uri" {
  description = "Public keys that verify the pool's tokens."
  value       = "${local.issuer_url}/.well-known/jwks.json"
}

output "domain" {
  description = "Prefix of the sign-in domain (its pages are the hosted UI or managed login: see login_ui)."
  value       = aws_cognito_user_pool_domain.this.domain
}

output "domain_base_url" {
  description = "Base URL of the sign-in domain (serves /oauth2/*, /login, /logout with the hosted UI or managed login: see login_ui)."
  value       = local.domain_base_url
}

output "authorize_url" {
  description = "OAuth 2.0 authorization endpoint."
  value       = "${local.domain_base_url}/oauth2/authorize"
}

output "token_url" {
  description = "OAuth 2.0 token endpoint."
  value       = "${local.domain_base_url}/oauth2/token"
}

output "userinfo_url" {
  description = "OpenID Connect userInfo endpoint."
  value       = "${local.domain_base_url}/oauth2/userInfo"
}

output "revoke_url" {
  description = "OAuth 2.0 token revocation endpoint."
  value       = "${local.domain_base_url}/oauth2/revoke"
}

output "logout_url" {
  description = "Sign-out endpoint of the sign-in domain."
  value       = "${local.domain_base_url}/logout"
}

output "client_ids" {
  description = "App client IDs by client name."
  value       = { for name, client in aws_cognito_user_pool_client.this : name => client.id }
}

output "client_secrets" {
  description = "App client secrets by client name (clients with a secret only)."
  value       = { for name, client in aws_cognito_user_pool_client.this : name => client.client_secret if client.generate_secret }
  sensitive   = true
}

output "clients" {
  description = "Per client: kind, OAuth flows and scopes, as configured."
  value = {
    for name, c in var.clients : name => {
      kind   = c.kind
      flows  = local.oauth_flows[c.kind]
      scopes = c.scopes
    }
  }
}

output "resource_server_scopes" {
  description = "Every <identifier>/<scope> the resource servers define."
  value       = local.custom_scopes
}

output "demo_username" {
  description = "Username (email) of the demo user, or null."
  value       = var.demo_user_email
}

output "login_ui" {
  description = "What the domain serves: \"hosted UI\" (managed_login_version 1, the classic pages) or \"managed login\" (version 2)."
  value       = local.login_ui
}

output "managed_login_version" {
  description = "The domain's managed_login_version: 1 (classic hosted UI) or 2 (managed login)."
  value       = aws_cognito_user_pool_domain.this.managed_login_version
}

output "group_names" {
  description = "Names of the user groups (the values the cognito:groups claim may hold)."
  value       = sort(keys(aws_cognito_user_group.this))
}

output "identity_provider_names" {
  description = "Provider names of the external identity providers, for clients' supported_identity_providers."
  value       = sort([for provider in aws_cognito_identity_provider.this : provider.provider_name])
}

output "custom_attribute_claims" {
  description = "Claim names of the custom attributes in ID tokens and userInfo (custom:<name>)."
  value       = sort([for name in keys(var.custom_attributes) : "custom:${name}"])
}
