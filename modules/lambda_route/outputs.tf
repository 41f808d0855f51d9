output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN of the function (the integration URI)."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "ARN of the function's execution role (role_arn when you bring it)."
  value       = local.role_arn
}

output "role_name" {
  description = "Name of the function's execution role, to attach further policies."
  value       = local.create_role ? aws_iam_role.this[0].name : reverse(split("/", var.role_arn))[0]
}

output "log_group_name" {
  description = "The function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "code_sha256" {
  description = "Base64 sha256 of the deployed package, as Lambda reports it (CodeSha256)."
  value       = aws_lambda_function.this.code_sha256
}

output "package_s3_key" {
  description = "Key of the package object in package_s3_bucket (null when the package is uploaded directly)."
  value       = local.s3_key
}

output "alarm_arns" {
  description = "ARNs of the alarms by name: errors, throttles, duration_p99 (empty without alarms)."
  value       = { for name, alarm in aws_cloudwatch_metric_alarm.this : name => alarm.arn }
}

output "integration_id" {
  description = "ID of the AWS_PROXY integration."
  value       = aws_apigatewayv2_integration.this.id
}

output "route_ids" {
  description = "Route IDs by route key."
  value       = { for key, route in aws_apigatewayv2_route.this : key => route.id }
}

output "permission_source_arns" {
  description = "The execute-api ARN each invoke permission is scoped to, by route key."
  value       = local.route_source_arns
}

output "package_path" {
  description = "The zip deployed (built at apply time from source_dirs, or package_file), uploaded to S3 first with package_s3_bucket."
  value       = local.package_path
}

output "source_hash" {
  description = "sha256 of the packaged sources' names and contents (null for a prebuilt package_file)."
  value       = local.source_hash
}
