output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Default endpoint of the API (https://<id>.execute-api.<region>.amazonaws.com)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "invoke_url" {
  description = "Base URL of the API, without a trailing slash: routes are appended to it. With a custom domain, https://<domain>[/<mapping_key>]; otherwise the $default stage's execute-api URL."
  value       = local.invoke_url
}

output "execute_api_url" {
  description = "URL of the $default stage on the execute-api endpoint (null when disable_execute_api_endpoint turns it off)."
  value       = var.disable_execute_api_endpoint ? null : trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
}

output "api_arn" {
  description = "ARN of the API resource (arn:aws:apigateway:<region>::/apis/<id>), for IAM policies on its management and for tagging."
  value       = aws_apigatewayv2_api.this.arn
}

output "stage_arn" {
  description = "ARN of the $default stage (arn:aws:apigateway:<region>::/apis/<id>/stages/$default), e.g. to associate a WAF web ACL."
  value       = aws_apigatewayv2_stage.default.arn
}

output "api" {
  description = "The API as modules/lambda_route takes it (its api input): id, execution ARN, and the CORS facts its routes are checked against."
  value = {
    id              = aws_apigatewayv2_api.this.id
    execution_arn   = aws_apigatewayv2_api.this.execution_arn
    cors_enabled    = var.cors != null
    preflight_route = var.preflight_route != null
  }
}

output "execution_arn" {
  description = "Execution ARN, the prefix of the source_arn of invoke permissions."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "authorizer_ids" {
  description = "Authorizer IDs by key, JWT and Lambda authorizers together."
  value = merge(
    { for key, a in aws_apigatewayv2_authorizer.jwt : key => a.id },
    { for key, a in aws_apigatewayv2_authorizer.lambda : key => a.id },
  )
}

output "stage_name" {
  description = "Name of the stage ($default)."
  value       = aws_apigatewayv2_stage.default.name
}

output "access_log_group_name" {
  description = "CloudWatch log group receiving the JSON access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "access_log_group_arn" {
  description = "ARN of the access log group, for subscription filters and log readers' policies."
  value       = aws_cloudwatch_log_group.access.arn
}

output "custom_domain_target" {
  description = "Target domain and hosted zone for the custom domain's DNS alias record (null without a custom domain)."
  value = var.custom_domain == null ? null : {
    domain_name    = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    hosted_zone_id = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  }
}
