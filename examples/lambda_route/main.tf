# An HTTP API with one public route, GET /hello, served by the handler in ./src.
# The package is built by `terraform apply` (python3 or python on PATH); `terraform plan` needs nothing.
# The function is traced by X-Ray and never takes more than 10 concurrent executions from the
# account. (JSON logs, log_format, are left out here: the embedded AWS, moto 5.2.1, does not keep
# a function's LoggingConfig, so its apply would never re-plan empty; see the lambda_route cases.)
module "http_api" {
  source = "../../modules/http_api"

  name = var.name
}

module "hello" {
  source = "../../modules/lambda_route"

  function_name = "${var.name}-hello"
  description   = "GET /hello of ${var.name}"
  source_dirs   = ["${path.module}/src"]
  api           = module.http_api.api

  tracing_mode                   = "Active"
  reserved_concurrent_executions = 10

  routes = {
    "GET /hello" = { authorization_type = "NONE" }
  }
}
