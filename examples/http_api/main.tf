terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
}

# An HTTP API that browsers on var.allowed_origins may call, with a JWT authorizer that routes
# refer to as module.http_api.authorizer_ids["cognito"] (see modules/lambda_route for routes).
module "http_api" {
  source = "../../modules/http_api"

  name        = var.name
  description = "Example HTTP API with a Cognito JWT authorizer"

  cors = {
    allow_origins = var.allowed_origins
  }

  jwt_authorizers = {
    cognito = {
      issuer   = var.jwt_issuer
      audience = var.jwt_audience
    }
  }

  # Per-route CloudWatch metrics, and a tighter limit on the status route than the stage's
  # 50/s (bursts of 100). The key comes from the route resource, so the stage waits for the
  # route: AWS refuses settings for a route the API does not have yet.
  detailed_metrics_enabled = true
  route_settings = {
    (aws_apigatewayv2_route.status.route_key) = { throttling_rate_limit = 5, throttling_burst_limit = 10 }
  }

  # With a custom domain the URL outputs follow it, and the execute-api endpoint may be turned off.
  custom_domain                = var.custom_domain
  disable_execute_api_endpoint = var.custom_domain != null
}

# A public route proxied to an HTTP backend (a Lambda route would use modules/lambda_route).
resource "aws_apigatewayv2_integration" "status" {
  api_id             = module.http_api.api_id
  integration_type   = "HTTP_PROXY"
  integration_method = "GET"
  integration_uri    = var.status_backend_url
}

resource "aws_apigatewayv2_route" "status" {
  #checkov:skip=CKV_AWS_309:A health check route, public on purpose.
  api_id    = module.http_api.api_id
  route_key = "GET /status"
  target    = "integrations/${aws_apigatewayv2_integration.status.id}"
}
