output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "invoke_url" {
  description = "Base URL of the API (the custom domain when there is one); append a route path."
  value       = module.http_api.invoke_url
}

output "jwt_authorizer_id" {
  description = "ID of the JWT authorizer, for the routes that require a token."
  value       = module.http_api.authorizer_ids["cognito"]
}

output "access_log_group_name" {
  description = "CloudWatch log group of the JSON access logs."
  value       = module.http_api.access_log_group_name
}

output "status_url" {
  description = "The public status route."
  value       = "${module.http_api.invoke_url}/status"
}

output "api_arn" {
  description = "ARN of the API."
  value       = module.http_api.api_arn
}

output "stage_arn" {
  description = "ARN of the $default stage (e.g. for a WAF web ACL association)."
  value       = module.http_api.stage_arn
}

output "access_log_group_arn" {
  description = "ARN of the access log group."
  value       = module.http_api.access_log_group_arn
}
