# An HTTP API with one public route, GET /hello, served by the handler in ./src.
# The package is built by `terraform apply` (python3 on PATH); `terraform plan` needs nothing.
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

  routes = {
    "GET /hello" = { authorization_type = "NONE" }
  }
}
