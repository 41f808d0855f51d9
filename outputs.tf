output "api_url" {
  description = "Invoke URL of the API; append a route path."
  value       = module.http_api.invoke_url
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "user_pool_id" {
  description = "ID of the Cognito user pool."
  value       = module.cognito.user_pool_id
}

output "issuer" {
  description = "Token issuer the API's JWT authorizer trusts."
  value       = module.cognito.issuer_url
}

output "jwks_uri" {
  description = "Public keys of the issuer."
  value       = module.cognito.jwks_uri
}

output "auth_base_url" {
  description = "Base URL of the Cognito domain (the classic hosted UI pages, managed_login_version 1)."
  value       = module.cognito.domain_base_url
}

output "authorize_url" {
  description = "Where users sign in (OAuth 2.0 authorization endpoint)."
  value       = module.cognito.authorize_url
}

output "token_url" {
  description = "Where codes and client credentials become tokens."
  value       = module.cognito.token_url
}

output "client_ids" {
  description = "App client IDs: web (confidential), spa (public, PKCE), machine (client credentials)."
  value       = module.cognito.client_ids
}

output "client_secrets" {
  description = "Secrets of the web and machine clients (terraform output -json client_secrets)."
  value       = module.cognito.client_secrets
  sensitive   = true
}

output "function_names" {
  description = "Lambda function names by route name."
  value       = { for name, route in module.route : name => route.function_name }
}

output "curl" {
  description = "A ready curl line per route; set ACCESS_TOKEN first (see README)."
  value = {
    hello   = "curl -s ${module.http_api.invoke_url}/hello"
    profile = "curl -s -H \"Authorization: Bearer $ACCESS_TOKEN\" ${module.http_api.invoke_url}/profile"
    notes   = "curl -s -X POST -H \"Authorization: Bearer $ACCESS_TOKEN\" -H 'content-type: application/json' -d '{\"title\":\"First note\",\"content\":\"Hello\"}' ${module.http_api.invoke_url}/notes"
  }
}

output "notes_table_name" {
  description = "DynamoDB table of the notes."
  value       = aws_dynamodb_table.notes.name
}

output "notes_operator_policy_arn" {
  description = "IAM policy to attach to a principal that calls GET /notes/stats (AWS_IAM route, SigV4)."
  value       = aws_iam_policy.notes_operator.arn
}
