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

  # The classic hosted UI; 2 (managed login) also needs a branding style per client (module README).
  managed_login_version = 1
  # user_pool_tier is left to Cognito (ESSENTIALS for a new pool). The embedded AWS (moto 5.2.1)
  # loses a tier set here, so the example's embedded apply would not re-plan empty.

  # A pre token generation trigger adds claims and scopes to tokens (V2_0: ID and access tokens).
  lambda_triggers = var.pre_token_generation_function_arn == null ? {} : {
    pre_token_generation_config = { lambda_arn = var.pre_token_generation_function_arn, lambda_version = "V2_0" }
  }

  # Groups reach tokens as the cognito:groups claim.
  groups = {
    editors = { precedence = 1, description = "May create and change notes" }
    readers = { precedence = 10, description = "May read notes" }
  }

  # In ID tokens and userInfo as custom:tenant_id; fixed once set.
  custom_attributes = {
    tenant_id = { type = "String", mutable = false, min_length = 1, max_length = 64 }
  }

  # Users of a company directory sign in through its OIDC provider, beside the pool's own users.
  identity_providers = var.oidc_provider == null ? {} : {
    (var.oidc_provider.name) = {
      type      = "OIDC"
      client_id = var.oidc_provider.client_id
      issuer    = var.oidc_provider.issuer
    }
  }
  identity_provider_client_secrets = var.oidc_provider == null ? {} : { (var.oidc_provider.name) = var.oidc_client_secret }

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
    # A browser app: signs users in with PKCE, has no secret; may use the OIDC provider.
    spa = {
      kind                          = "spa"
      scopes                        = ["openid", "email", "notes-api/read"]
      callback_urls                 = [for origin in var.app_origins : "${origin}/callback"]
      logout_urls                   = [for origin in var.app_origins : "${origin}/"]
      access_token_validity_minutes = 15
      supported_identity_providers  = concat(["COGNITO"], var.oidc_provider == null ? [] : [var.oidc_provider.name])
    }
    # A native mobile app: PKCE, back to the app through its own URL scheme.
    mobile = {
      kind          = "spa"
      scopes        = ["openid", "email", "notes-api/read"]
      callback_urls = ["notesapp://callback"]
      logout_urls   = ["notesapp://signout"]
    }
    # A backend job: client credentials, API scopes only.
    reporting-job = {
      kind   = "machine"
      scopes = ["notes-api/read"]
    }
  }
}
