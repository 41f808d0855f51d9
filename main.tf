locals {
  read_scope  = "${var.api_identifier}/read"
  write_scope = "${var.api_identifier}/write"
  user_scopes = ["openid", "profile", "email", local.read_scope, local.write_scope]

  app_clients = {
    web     = { kind = "web", scopes = local.user_scopes, callback_urls = var.callback_urls, logout_urls = var.logout_urls }
    spa     = { kind = "spa", scopes = local.user_scopes, callback_urls = var.callback_urls, logout_urls = var.logout_urls }
    machine = { kind = "machine", scopes = [local.read_scope, local.write_scope] }
  }

  # One function per route; an empty scope list makes a public route, any other a JWT route
  # that needs one of the scopes (scopes are also what keeps ID tokens out).
  routes = {
    hello       = { route_key = "GET /hello", scopes = [] }
    profile     = { route_key = "GET /profile", scopes = [local.read_scope] }
    create_note = { route_key = "POST /notes", scopes = [local.write_scope] }
  }
}

module "cognito" {
  source = "./modules/cognito"

  name                = var.name
  domain_prefix       = var.cognito_domain_prefix
  deletion_protection = var.cognito_deletion_protection
  demo_user_email     = var.demo_user_email
  clients             = local.app_clients

  resource_servers = {
    (var.api_identifier) = {
      name = "Notes API"
      scopes = {
        read  = "Read the caller's profile and notes"
        write = "Create notes"
      }
    }
  }
}

module "http_api" {
  source = "./modules/http_api"

  name                   = var.name
  description            = "Notes API: Cognito JWT authorizer in front of Lambda handlers"
  throttling_rate_limit  = var.throttling_rate_limit
  throttling_burst_limit = var.throttling_burst_limit
  log_retention_days     = var.log_retention_days

  cors = length(var.cors_allow_origins) == 0 ? null : {
    allow_origins = var.cors_allow_origins
    allow_methods = ["GET", "POST"]
  }

  jwt_authorizers = {
    cognito = {
      issuer = module.cognito.issuer_url
      # The audience is every client that calls the API: those granted one of its scopes.
      audience = [
        for name, client in local.app_clients : module.cognito.client_ids[name]
        if length(setintersection(client.scopes, [local.read_scope, local.write_scope])) > 0
      ]
    }
  }
}

module "route" {
  source   = "./modules/lambda_route"
  for_each = local.routes

  function_name      = "${var.name}-${replace(each.key, "_", "-")}"
  description        = "${each.value.route_key} of ${var.name}"
  source_dirs        = ["${path.module}/functions/${each.key}", "${path.module}/functions/shared"]
  architecture       = var.lambda_architecture
  log_retention_days = var.log_retention_days
  api                = module.http_api.api

  routes = {
    (each.value.route_key) = {
      authorization_type   = length(each.value.scopes) == 0 ? "NONE" : "JWT"
      authorizer_id        = length(each.value.scopes) == 0 ? null : module.http_api.authorizer_ids["cognito"]
      authorization_scopes = each.value.scopes
    }
  }
}
