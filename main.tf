locals {
  read_scope  = "${var.api_identifier}/read"
  write_scope = "${var.api_identifier}/write"
  user_scopes = ["openid", "profile", "email", local.read_scope, local.write_scope]

  app_clients = {
    web     = { kind = "web", scopes = local.user_scopes, callback_urls = var.callback_urls, logout_urls = var.logout_urls }
    spa     = { kind = "spa", scopes = local.user_scopes, callback_urls = var.callback_urls, logout_urls = var.logout_urls }
    machine = { kind = "machine", scopes = [local.read_scope, local.write_scope] }
  }

  # One function per route. A route with scopes is a JWT route that needs one of them (scopes are
  # also what keeps ID tokens out); "iam" routes are for SigV4-signed AWS principals; the rest are
  # public. `table_actions` is all the function may do to the notes table.
  routes = {
    hello       = { route_key = "GET /hello", scopes = [], table_actions = [] }
    profile     = { route_key = "GET /profile", scopes = [local.read_scope], table_actions = [] }
    create_note = { route_key = "POST /notes", scopes = [local.write_scope], table_actions = ["dynamodb:PutItem", "dynamodb:GetItem"] }
    list_notes  = { route_key = "GET /notes", scopes = [local.read_scope], table_actions = ["dynamodb:Query"] }
    get_note    = { route_key = "GET /notes/{id}", scopes = [local.read_scope], table_actions = ["dynamodb:GetItem"] }
    delete_note = { route_key = "DELETE /notes/{id}", scopes = [local.write_scope], table_actions = ["dynamodb:DeleteItem"] }
    note_stats  = { route_key = "GET /notes/stats", scopes = [], iam = true, table_actions = ["dynamodb:Query"] }
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
        write = "Create and delete notes"
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
    allow_methods = ["GET", "POST", "DELETE"]
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

# The functions' packages, when they are deployed from S3 (lambda_packages_in_s3): objects named
# after their content hash, so an edit uploads a new object; the old one becomes a noncurrent version.
resource "aws_s3_bucket" "lambda_packages" {
  #checkov:skip=CKV_AWS_18:Only this stack's Terraform writes here (packages named by hash); CloudTrail records who, an access-log bucket would add one more bucket.
  #checkov:skip=CKV_AWS_144:Packages are rebuilt from the repository on any apply; replicating them to another region adds nothing.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to a new package: Terraform deploys it in the same apply.
  #checkov:skip=CKV2_AWS_61:No lifecycle rule: the provider waits for one to read back steady (55 s in bench/first_apply.py), more than S3 packaging saves; a replaced package stays as a noncurrent version of some KB.
  count = var.lambda_packages_in_s3 ? 1 : 0

  bucket_prefix = "${var.name}-code-"
  # Packages are build output, rebuilt from source: destroy may empty the bucket.
  force_destroy = true
}

resource "aws_s3_bucket_versioning" "lambda_packages" {
  count  = var.lambda_packages_in_s3 ? 1 : 0
  bucket = aws_s3_bucket.lambda_packages[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lambda_packages" {
  count  = var.lambda_packages_in_s3 ? 1 : 0
  bucket = aws_s3_bucket.lambda_packages[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms" # the account's aws/s3 key: Lambda reads the objects with the deployer's rights
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "lambda_packages" {
  count  = var.lambda_packages_in_s3 ? 1 : 0
  bucket = aws_s3_bucket.lambda_packages[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "lambda_packages" {
  count  = var.lambda_packages_in_s3 ? 1 : 0
  bucket = aws_s3_bucket.lambda_packages[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
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
  # format() marks the name as set (not null) at plan time, while its value is not known yet: the
  # module decides from that whether it creates an object.
  package_s3_bucket = var.lambda_packages_in_s3 ? format("%s", aws_s3_bucket.lambda_packages[0].id) : null
  package_s3_prefix = var.lambda_packages_in_s3 ? "functions/" : ""
  api               = module.http_api.api

  environment = length(each.value.table_actions) == 0 ? {} : { NOTES_TABLE = aws_dynamodb_table.notes.name }
  policy_statements = length(each.value.table_actions) == 0 ? [] : [{
    sid       = "NotesTable"
    actions   = each.value.table_actions
    resources = [aws_dynamodb_table.notes.arn]
  }]

  routes = {
    (each.value.route_key) = {
      authorization_type   = try(each.value.iam, false) ? "AWS_IAM" : length(each.value.scopes) == 0 ? "NONE" : "JWT"
      authorizer_id        = length(each.value.scopes) == 0 ? null : module.http_api.authorizer_ids["cognito"]
      authorization_scopes = each.value.scopes
    }
  }
}
