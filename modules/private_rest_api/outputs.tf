output "api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the REST API (arn:aws:execute-api:region:account:api-id), for IAM policies of AWS_IAM callers."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "invoke_url" {
  description = "The stage's URL, https://{api-id}.execute-api.{region}.amazonaws.com/{stage}: resolves only inside a VPC whose endpoint has private DNS on (spec H1)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "endpoint_urls" {
  description = "The stage's URL through each VPC endpoint, by endpoint id: https://{api-id}-{vpce-id}.execute-api.{region}.amazonaws.com/{stage}, which resolves whether or not private DNS is on (spec H1)."
  value = {
    for id in local.vpc_endpoint_ids :
    id => "https://${aws_api_gateway_rest_api.this.id}-${id}.execute-api.${split(":", aws_api_gateway_rest_api.this.execution_arn)[3]}.amazonaws.com/${aws_api_gateway_stage.this.stage_name}"
  }
}

output "vpc_endpoint_ids" {
  description = "Every VPC endpoint the API is reachable through: the ones passed in, then the one created."
  value       = local.vpc_endpoint_ids
}

output "created_vpc_endpoint_id" {
  description = "ID of the VPC endpoint the module created (null when vpc_endpoint is null)."
  value       = one(aws_vpc_endpoint.execute_api[*].id)
}

output "security_group_id" {
  description = "ID of the endpoint's security group (null when vpc_endpoint is null)."
  value       = one(aws_security_group.endpoint[*].id)
}

output "resource_ids" {
  description = "ID of the API resource of every path, \"/\" included."
  value       = local.resource_ids
}

output "policy" {
  description = "The resource policy, as JSON."
  value       = local.policy
}

output "access_log_group_name" {
  description = "CloudWatch log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.access.name
}

output "usage_plan_id" {
  description = "ID of the usage plan (null when usage_plan is null)."
  value       = one(aws_api_gateway_usage_plan.this[*].id)
}

output "api_key_ids" {
  description = "ID of each API key, by its name in usage_plan.api_keys."
  value       = { for name, key in aws_api_gateway_api_key.this : name => key.id }
}

output "api_key_values" {
  description = "Value of each API key, by name (sent in x-api-key)."
  value       = { for name, key in aws_api_gateway_api_key.this : name => key.value }
  sensitive   = true
}
