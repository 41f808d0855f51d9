locals {
  # Where clients call the API: the custom domain when there is one (the execute-api endpoint may
  # be off), under its mapping key; otherwise the stage's URL, whose trailing slash is dropped.
  invoke_url = (
    var.custom_domain == null
    ? trimsuffix(aws_apigatewayv2_stage.default.invoke_url, "/")
    : join("/", compact(["https://${var.custom_domain.domain_name}", var.custom_domain.mapping_key]))
  )
}

resource "aws_apigatewayv2_api" "this" {
  name                         = var.name
  description                  = var.description
  protocol_type                = "HTTP"
  disable_execute_api_endpoint = var.disable_execute_api_endpoint
  tags                         = var.tags

  dynamic "cors_configuration" {
    for_each = var.cors == null ? [] : [var.cors]
    content {
      allow_origins     = cors_configuration.value.allow_origins
      allow_methods     = cors_configuration.value.allow_methods
      allow_headers     = cors_configuration.value.allow_headers
      expose_headers    = cors_configuration.value.expose_headers
      max_age           = cors_configuration.value.max_age_seconds
      allow_credentials = cors_configuration.value.allow_credentials
    }
  }

  lifecycle {
    precondition {
      condition     = !var.disable_execute_api_endpoint || var.custom_domain != null
      error_message = "disable_execute_api_endpoint = true needs custom_domain: without one the API would have no endpoint left to call."
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  for_each = var.jwt_authorizers

  api_id           = aws_apigatewayv2_api.this.id
  name             = each.key
  authorizer_type  = "JWT"
  identity_sources = [each.value.identity_source]

  jwt_configuration {
    issuer   = each.value.issuer
    audience = each.value.audience
  }
}

resource "aws_apigatewayv2_authorizer" "lambda" {
  for_each = var.lambda_authorizers

  api_id                            = aws_apigatewayv2_api.this.id
  name                              = each.key
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = each.value.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = each.value.enable_simple_responses
  identity_sources                  = each.value.identity_sources
  authorizer_result_ttl_in_seconds  = each.value.result_ttl_seconds

  lifecycle {
    # A precondition, not a validation of either variable: a validation that reads the other
    # variable is skipped whenever that one is invalid, and would hide this variable's own errors.
    precondition {
      condition     = !contains(keys(var.jwt_authorizers), each.key)
      error_message = "lambda_authorizers[\"${each.key}\"]: jwt_authorizers has the same key; authorizer_ids needs each name once."
    }
  }
}

resource "aws_lambda_permission" "authorizer" {
  for_each = var.lambda_authorizers

  statement_id  = "apigw-authorizer-${aws_apigatewayv2_authorizer.lambda[each.key].id}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.lambda[each.key].id}"
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days input (30 days by default); callers needing a year set it.
  #checkov:skip=CKV_AWS_158:KMS encryption is the log_kms_key_arn input; by default CloudWatch's own encryption applies.
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true
  tags        = var.tags

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    # One JSON object per request; authorizerError says why a token was refused.
    format = jsonencode({
      requestId               = "$context.requestId"
      requestTime             = "$context.requestTime"
      sourceIp                = "$context.identity.sourceIp"
      httpMethod              = "$context.httpMethod"
      routeKey                = "$context.routeKey"
      path                    = "$context.path"
      protocol                = "$context.protocol"
      status                  = "$context.status"
      responseLength          = "$context.responseLength"
      responseLatency         = "$context.responseLatency"
      integrationStatus       = "$context.integrationStatus"
      integrationLatency      = "$context.integrationLatency"
      integrationErrorMessage = "$context.integrationErrorMessage"
      authorizerError         = "$context.authorizer.error"
      userAgent               = "$context.identity.userAgent"
    })
  }

  default_route_settings {
    throttling_rate_limit    = var.throttling_rate_limit
    throttling_burst_limit   = var.throttling_burst_limit
    detailed_metrics_enabled = var.detailed_metrics_enabled
  }

  # AWS refuses settings for a route key the API does not have (yet): see the README.
  dynamic "route_settings" {
    for_each = var.route_settings
    content {
      route_key                = route_settings.key
      throttling_rate_limit    = coalesce(route_settings.value.throttling_rate_limit, var.throttling_rate_limit)
      throttling_burst_limit   = coalesce(route_settings.value.throttling_burst_limit, var.throttling_burst_limit)
      detailed_metrics_enabled = coalesce(route_settings.value.detailed_metrics_enabled, var.detailed_metrics_enabled)
    }
  }
}

# Browsers send preflights without credentials. With CORS configured, API Gateway answers a
# preflight itself only when no route matches it; an authorized ANY or $default route matches
# OPTIONS too, and its authorizer refuses the preflight. This route is more specific than both
# (an explicit method), takes no authorization, and needs an integration: HTTP APIs have no MOCK
# integration, so a Lambda function answers, and API Gateway adds the configured CORS headers.
resource "aws_apigatewayv2_integration" "preflight" {
  count = var.preflight_route == null ? 0 : 1

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.preflight_route.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "preflight" {
  #checkov:skip=CKV_AWS_309:Browser preflights carry no credentials; this OPTIONS route must be unauthenticated to answer them.
  count = var.preflight_route == null ? 0 : 1

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "OPTIONS /{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.preflight[0].id}"
  authorization_type = "NONE"

  lifecycle {
    precondition {
      condition     = var.cors != null
      error_message = "preflight_route answers CORS preflights: it needs cors to be set."
    }
  }
}

resource "aws_lambda_permission" "preflight" {
  count = var.preflight_route == null ? 0 : 1

  statement_id  = "apigw-preflight-${aws_apigatewayv2_api.this.id}"
  action        = "lambda:InvokeFunction"
  function_name = var.preflight_route.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/OPTIONS/{proxy+}"
}

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.custom_domain == null ? 0 : 1

  domain_name = var.custom_domain.domain_name
  tags        = var.tags

  domain_name_configuration {
    certificate_arn = var.custom_domain.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.custom_domain == null ? 0 : 1

  api_id          = aws_apigatewayv2_api.this.id
  domain_name     = aws_apigatewayv2_domain_name.this[0].id
  stage           = aws_apigatewayv2_stage.default.id
  api_mapping_key = var.custom_domain.mapping_key
}
