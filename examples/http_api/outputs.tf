output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "invoke_url" {
  description = "URL of the $default stage; append a route path."
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
