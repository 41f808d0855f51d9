# Deployment and stage: what callers reach. A REST API serves a snapshot taken by a deployment,
# so any change of routes, integrations or the resource policy needs a new one (spec H2).
resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    # Inputs and ids only: attributes read back from AWS (an empty map read as null) would change
    # the hash on refresh and redeploy on every plan.
    redeployment = sha256(jsonencode({
      routes          = var.routes
      path_parameters = local.path_parameters
      resources       = local.resource_ids
      validator       = aws_api_gateway_request_validator.this.id
      timeout_ms      = var.integration_timeout_ms
      policy          = local.policy
      methods         = { for key, m in aws_api_gateway_method.this : key => m.id }
      integrations    = { for key, i in aws_api_gateway_integration.this : key => i.id }
    }))
  }

  lifecycle {
    create_before_destroy = true
  }

  # A private API cannot be deployed without its policy, nor a method without its integration.
  depends_on = [aws_api_gateway_rest_api_policy.this, aws_api_gateway_integration.this]
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days input (30 days by default); callers needing a year set it.
  #checkov:skip=CKV_AWS_158:KMS encryption is the log_kms_key_arn input; by default CloudWatch's own encryption applies.
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:A cache cluster is billed by the hour whatever the traffic and would serve one caller's answer to another; Lambda answers are per request here.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the backends here are Lambda functions invoked through IAM.
  #checkov:skip=CKV2_AWS_29:WAF is for public endpoints; this API is reachable only through its VPC endpoints, and callers attach a web ACL with aws_wafv2_web_acl_association if they need one.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.xray_tracing
  tags                 = var.tags

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId        = "$context.requestId"
      extendedId       = "$context.extendedRequestId"
      sourceIp         = "$context.identity.sourceIp"
      vpceId           = "$context.identity.vpceId"
      caller           = "$context.identity.caller"
      user             = "$context.identity.user"
      requestTime      = "$context.requestTime"
      httpMethod       = "$context.httpMethod"
      resourcePath     = "$context.resourcePath"
      status           = "$context.status"
      protocol         = "$context.protocol"
      responseLength   = "$context.responseLength"
      integrationError = "$context.integrationErrorMessage"
      latency          = "$context.responseLatency"
    })
  }
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching is off on purpose: answers are per request and per caller (see the stage's CKV_AWS_120).
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.logging_level
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttling.rate_limit
    throttling_burst_limit = var.throttling.burst_limit
    caching_enabled        = false
  }
}

resource "aws_api_gateway_usage_plan" "this" {
  count = var.usage_plan == null ? 0 : 1

  name = "${var.name}-${var.stage_name}"
  tags = var.tags

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.usage_plan.rate_limit
    burst_limit = var.usage_plan.burst_limit
  }

  dynamic "quota_settings" {
    for_each = var.usage_plan.quota == null ? [] : [var.usage_plan.quota]
    content {
      limit  = quota_settings.value.limit
      period = quota_settings.value.period
    }
  }
}

resource "aws_api_gateway_api_key" "this" {
  for_each = var.usage_plan == null ? toset([]) : var.usage_plan.api_keys

  name = "${var.name}-${each.key}"
  tags = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = aws_api_gateway_api_key.this

  key_id        = each.value.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[0].id
}
