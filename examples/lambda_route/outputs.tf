output "hello_url" {
  description = "Call it: curl \"$(terraform output -raw hello_url)?name=you\"."
  value       = "${module.http_api.invoke_url}/hello"
}

output "function_name" {
  description = "Name of the Lambda function serving GET /hello."
  value       = module.hello.function_name
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = module.hello.log_group_name
}

output "package_path" {
  description = "The zip built from ./src and deployed."
  value       = module.hello.package_path
}

output "log_group_arn" {
  description = "ARN of the function's log group (for subscriptions, metric filters)."
  value       = module.hello.log_group_arn
}
