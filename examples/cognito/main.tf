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

module "cognito" {
  source = "../../modules/cognito"

  name          = var.name
  domain_prefix = var.domain_prefix
  # An example is made to be destroyed: a real pool keeps the default (true).
  deletion_protection = false
  demo_user_email     = var.demo_user_email

  resource_servers = {
    notes-api = {
      name = "Notes API"
      scopes = {
        read  = "Read notes"
        write = "Create notes"
      }
    }
  }

  clients = {
    # A server-side web app: signs users in, keeps a secret.
    web = {
      kind          = "web"
      scopes        = ["openid", "email", "notes-api/read", "notes-api/write"]
      callback_urls = [for origin in var.app_origins : "${origin}/callback"]
      logout_urls   = [for origin in var.app_origins : "${origin}/"]
    }
    # A browser app: signs users in with PKCE, has no secret.
    spa = {
      kind                          = "spa"
      scopes                        = ["openid", "email", "notes-api/read"]
      callback_urls                 = [for origin in var.app_origins : "${origin}/callback"]
      logout_urls                   = [for origin in var.app_origins : "${origin}/"]
      access_token_validity_minutes = 15
    }
    # A backend job: client credentials, API scopes only.
    reporting-job = {
      kind   = "machine"
      scopes = ["notes-api/read"]
    }
  }
}
