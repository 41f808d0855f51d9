output "api_url" {
  description = "Base URL of the API, stage included."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "user_pool_id" {
  value = aws_cognito_user_pool.users.id
}

output "issuer" {
  value = "https://${aws_cognito_user_pool.users.endpoint}"
}

output "function_names" {
  value = { for name, function in aws_lambda_function.this : name => function.function_name }
}
