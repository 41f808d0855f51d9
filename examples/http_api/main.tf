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
}
