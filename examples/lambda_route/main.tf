# An HTTP API with one public route, GET /hello, served by the handler in ./src.
# The package is built by `terraform apply` (python3 or python on PATH); `terraform plan` needs nothing.
# The function logs in JSON from INFO up, is traced by X-Ray, and never takes more than 10
# concurrent executions from the account.
module "http_api" {
  source = "../../modules/http_api"

  name = var.name
}

module "hello" {
  source = "../../modules/lambda_route"

  function_name     = "${var.name}-hello"
  description       = "GET /hello of ${var.name}"
  source_dirs       = ["${path.module}/src"]
  api_id            = module.http_api.api_id
  api_execution_arn = module.http_api.execution_arn

  log_format                     = "JSON"
  application_log_level          = "INFO"
  system_log_level               = "WARN"
  tracing_mode                   = "Active"
  reserved_concurrent_executions = 10

  routes = {
    "GET /hello" = { authorization_type = "NONE" }
  }
}
