output "api_id" {
  description = "ID of the private REST API."
  value       = module.api.api_id
}

output "order_url" {
  description = "GET /orders/42 through the endpoint (from inside the VPC): curl \"$(terraform output -raw order_url)\"."
  value       = "${values(module.api.endpoint_urls)[0]}/orders/42"
}

output "endpoint_urls" {
  description = "The stage's URL through each VPC endpoint."
  value       = module.api.endpoint_urls
}

output "vpc_endpoint_id" {
  description = "The execute-api interface endpoint."
  value       = module.api.created_vpc_endpoint_id
}

output "function_name" {
  description = "The function serving GET /orders/{id}."
  value       = aws_lambda_function.orders.function_name
}
