output "user_pool_id" {
  description = "ID of the user pool."
  value       = module.cognito.user_pool_id
}

output "issuer_url" {
  description = "Token issuer: the issuer of a JWT authorizer."
  value       = module.cognito.issuer_url
}

output "jwks_uri" {
  description = "Public keys that verify the pool's tokens."
  value       = module.cognito.jwks_uri
}

output "authorize_url" {
  description = "Where users sign in (OAuth 2.0 authorization endpoint)."
  value       = module.cognito.authorize_url
}

output "token_url" {
  description = "Where codes and client credentials become tokens."
  value       = module.cognito.token_url
}

output "userinfo_url" {
  description = "OpenID Connect userInfo endpoint."
  value       = module.cognito.userinfo_url
}

output "client_ids" {
  description = "App client IDs by client name: the audience of a JWT authorizer."
  value       = module.cognito.client_ids
}

output "client_secrets" {
  description = "Secrets of the web and reporting-job clients: terraform output -json client_secrets."
  value       = module.cognito.client_secrets
  sensitive   = true
}

output "login_ui" {
  description = "What the sign-in domain serves: hosted UI or managed login."
  value       = module.cognito.login_ui
}

output "group_names" {
  description = "User groups, as they appear in the cognito:groups claim."
  value       = module.cognito.group_names
}

output "identity_provider_names" {
  description = "External identity providers the clients may name."
  value       = module.cognito.identity_provider_names
}
