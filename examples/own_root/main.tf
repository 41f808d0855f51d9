# A small orders service written the way many teams do it: plain aws_* resources, one file,
# no shared modules. GET /health is public; the /orders routes need a Cognito access token
# with the orders/read or orders/write scope.

locals {
  functions = {
    health = "src/health.py"
    orders = "src/orders.py"
  }
  # The zip is named after its source's hash, so an edit changes `filename` and the provider
  # uploads the new code; an unchanged handler plans nothing.
  packages = {
    for name, source in local.functions :
    name => "${path.module}/.build/${name}-${substr(filesha256("${path.module}/${source}"), 0, 16)}.zip"
  }
  routes = {
    "GET /health"      = { function = "health", scopes = [] }
    "GET /orders/{id}" = { function = "orders", scopes = ["orders/read"] }
    "POST /orders"     = { function = "orders", scopes = ["orders/write"] }
  }
}

# -- Cognito: users, the orders scopes, a backend client and a browser app -----------------------

resource "aws_cognito_user_pool" "users" {
  name                     = "${var.service_name}-users"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]

  password_policy {
    minimum_length    = 12
    require_lowercase = true
    require_uppercase = true
    require_numbers   = true
    require_symbols   = true
  }
}

resource "aws_cognito_user_pool_domain" "users" {
  domain       = "${var.service_name}-login-example"
  user_pool_id = aws_cognito_user_pool.users.id
}

resource "aws_cognito_user_group" "support" {
  name         = "support"
  user_pool_id = aws_cognito_user_pool.users.id
}

resource "aws_cognito_resource_server" "orders" {
  identifier   = "orders"
  name         = "Orders"
  user_pool_id = aws_cognito_user_pool.users.id

  scope {
    scope_name        = "read"
    scope_description = "Read orders"
  }
  scope {
    scope_name        = "write"
    scope_description = "Place orders"
  }
}

# Another service calling this one: client credentials, a secret, the orders scopes only.
resource "aws_cognito_user_pool_client" "backend" {
  name                                 = "backend"
  user_pool_id                         = aws_cognito_user_pool.users.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = aws_cognito_resource_server.orders.scope_identifiers
}

# The shop's browser app: users sign in (authorization code with PKCE, no secret).
resource "aws_cognito_user_pool_client" "app" {
  name                                 = "app"
  user_pool_id                         = aws_cognito_user_pool.users.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = concat(["openid", "email"], aws_cognito_resource_server.orders.scope_identifiers)
  callback_urls                        = [var.app_callback_url]
  supported_identity_providers         = ["COGNITO"]
}

# -- Lambda: two Python handlers, zipped by Python's own zipfile at apply time --------------------

resource "terraform_data" "package" {
  for_each = local.functions

  triggers_replace = [local.packages[each.key]]

  provisioner "local-exec" {
    command = "mkdir -p ${path.module}/.build && ${var.python} -m zipfile -c ${local.packages[each.key]} ${path.module}/${each.value}"
  }
}

resource "aws_iam_role" "lambda" {
  name = "${var.service_name}-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:CloudWatch's own encryption at rest is enough for these logs; a KMS key is the caller's to add.
  for_each          = local.functions
  name              = "/aws/lambda/${var.service_name}-${each.key}"
  retention_in_days = 365
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The handlers call no private resource; a VPC would add NAT cost and cold starts for nothing.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error; a DLQ only serves async invokes.
  #checkov:skip=CKV_AWS_115:Reserved concurrency takes from the account pool; the stage's throttling bounds the load.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile of the owning team; this example has none.
  #checkov:skip=CKV_AWS_50:X-Ray needs xray:PutTraceSegments, which the basic execution role does not grant.
  for_each = local.functions

  function_name = "${var.service_name}-${each.key}"
  role          = aws_iam_role.lambda.arn
  runtime       = "python3.12"
  handler       = "${each.key}.handler"
  filename      = local.packages[each.key]
  # The zip is built at apply time, so its own hash is not known at plan time: the source's is
  # (the package holds that one file), and it changes exactly when the code does.
  source_code_hash = filebase64sha256("${path.module}/${each.value}")

  depends_on = [terraform_data.package, aws_cloudwatch_log_group.function, aws_iam_role_policy_attachment.logs]
}

# -- the HTTP API, on a named stage ---------------------------------------------------------------

resource "aws_apigatewayv2_api" "shop" {
  name          = var.service_name
  protocol_type = "HTTP"
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:CloudWatch's own encryption at rest is enough for these logs; a KMS key is the caller's to add.
  name              = "/aws/apigateway/${var.service_name}/access"
  retention_in_days = 365
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.shop.id
  name        = var.stage_name
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = 100
    throttling_burst_limit = 200
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = jsonencode({ requestId = "$context.requestId", routeKey = "$context.routeKey", status = "$context.status" })
  }
}

resource "aws_apigatewayv2_authorizer" "cognito" {
  api_id           = aws_apigatewayv2_api.shop.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = "https://${aws_cognito_user_pool.users.endpoint}"
    audience = [aws_cognito_user_pool_client.backend.id, aws_cognito_user_pool_client.app.id]
  }
}

resource "aws_apigatewayv2_integration" "function" {
  for_each = local.functions

  api_id                 = aws_apigatewayv2_api.shop.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:GET /health is public by design; every /orders route is JWT with a scope.
  for_each = local.routes

  api_id               = aws_apigatewayv2_api.shop.id
  route_key            = each.key
  target               = "integrations/${aws_apigatewayv2_integration.function[each.value.function].id}"
  authorization_type   = length(each.value.scopes) > 0 ? "JWT" : "NONE"
  authorizer_id        = length(each.value.scopes) > 0 ? aws_apigatewayv2_authorizer.cognito.id : null
  authorization_scopes = length(each.value.scopes) > 0 ? each.value.scopes : null
}

resource "aws_lambda_permission" "api" {
  for_each = local.functions

  statement_id  = "AllowShopApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.shop.execution_arn}/*/*"
}
