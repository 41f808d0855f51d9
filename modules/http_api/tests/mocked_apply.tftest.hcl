# What a plan cannot show: values AWS only knows after apply (ids, ARNs, the domain's target)
# and the strings the module builds from them. The provider is mocked with the values AWS would
# return; run by tests/test_http_api_module.py, or here with `terraform test`.

mock_provider "aws" {
  override_resource {
    target = aws_apigatewayv2_api.this
    values = { id = "a1b2c3", execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3", arn = "arn:aws:apigateway:us-east-1::/apis/a1b2c3" }
  }
  override_resource {
    target = aws_apigatewayv2_stage.default
    # An HTTP API stage's id is its name; its invoke URL ends with a slash.
    values = { id = "$default", invoke_url = "https://a1b2c3.execute-api.us-east-1.amazonaws.com/", arn = "arn:aws:apigateway:us-east-1::/apis/a1b2c3/stages/$default" }
  }
  override_resource {
    target = aws_cloudwatch_log_group.access
    values = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/orders-api/access" }
  }
  override_resource {
    target = aws_apigatewayv2_authorizer.jwt
    values = { id = "jwt001" }
  }
  override_resource {
    target = aws_apigatewayv2_authorizer.lambda
    values = { id = "lam001" }
  }
  override_resource {
    target = aws_apigatewayv2_integration.preflight
    values = { id = "int001" }
  }
  override_resource {
    target = aws_apigatewayv2_domain_name.this
    values = {
      id                        = "api.example.com"
      domain_name_configuration = { target_domain_name = "d-abc123.execute-api.us-east-1.amazonaws.com", hosted_zone_id = "Z1UJRXOUMOOFQ8" }
    }
  }
}

variables {
  name = "orders-api"
  jwt_authorizers = {
    cognito = { issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE", audience = ["web-client-id"] }
  }
  lambda_authorizers = {
    api_key = {
      function_name = "orders-api-key-authorizer"
      invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-api-key-authorizer/invocations"
    }
  }
  custom_domain = {
    domain_name     = "api.example.com"
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  }
  cors = { allow_origins = ["https://app.example.com"] }
  preflight_route = {
    function_name = "orders-preflight"
    invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders-preflight/invocations"
  }
}

run "lambda_authorizer_permission_is_scoped_to_its_authorizer" {
  assert {
    condition     = aws_lambda_permission.authorizer["api_key"].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/authorizers/lam001"
    error_message = "source_arn is ${aws_lambda_permission.authorizer["api_key"].source_arn}, not <execution_arn>/authorizers/<authorizer id>."
  }
  assert {
    # The authorizer id, not the key, keeps statement ids apart when one function serves several APIs.
    condition     = aws_lambda_permission.authorizer["api_key"].statement_id == "apigw-authorizer-lam001"
    error_message = "statement_id is ${aws_lambda_permission.authorizer["api_key"].statement_id}."
  }
}

run "authorizer_ids_merge_jwt_and_lambda_authorizers" {
  assert {
    condition     = output.authorizer_ids == { cognito = "jwt001", api_key = "lam001" }
    error_message = "authorizer_ids is ${jsonencode(output.authorizer_ids)}."
  }
}

run "invoke_url_has_no_trailing_slash" {
  variables {
    custom_domain = null
  }
  assert {
    condition     = output.invoke_url == "https://a1b2c3.execute-api.us-east-1.amazonaws.com" && output.execute_api_url == output.invoke_url
    error_message = "invoke_url is ${output.invoke_url}, execute_api_url ${output.execute_api_url}."
  }
}

run "invoke_url_follows_the_custom_domain_and_its_mapping_key" {
  variables {
    custom_domain = {
      domain_name     = "api.example.com"
      certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
      mapping_key     = "v1"
    }
    disable_execute_api_endpoint = true
  }
  assert {
    condition     = output.invoke_url == "https://api.example.com/v1"
    error_message = "invoke_url is ${output.invoke_url}."
  }
  assert {
    # The execute-api endpoint answers 403 once disabled: no output points at it.
    condition     = output.execute_api_url == null
    error_message = "execute_api_url is ${jsonencode(output.execute_api_url)}."
  }
}

run "arns_of_the_api_its_stage_and_its_access_log_group" {
  assert {
    condition     = output.api_arn == "arn:aws:apigateway:us-east-1::/apis/a1b2c3" && output.stage_arn == "arn:aws:apigateway:us-east-1::/apis/a1b2c3/stages/$default"
    error_message = "api_arn is ${output.api_arn}, stage_arn ${output.stage_arn}."
  }
  assert {
    condition     = output.access_log_group_arn == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/orders-api/access"
    error_message = "access_log_group_arn is ${output.access_log_group_arn}."
  }
}

run "api_output_carries_what_lambda_route_needs" {
  assert {
    condition     = output.api == { id = "a1b2c3", execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3", cors_enabled = true, preflight_route = true }
    error_message = "api is ${jsonencode(output.api)}."
  }
}

run "preflight_route_targets_its_integration_and_may_invoke_the_function_for_options_only" {
  assert {
    condition     = aws_apigatewayv2_route.preflight[0].target == "integrations/int001" && aws_apigatewayv2_route.preflight[0].api_id == "a1b2c3"
    error_message = "the preflight route targets ${aws_apigatewayv2_route.preflight[0].target}."
  }
  assert {
    condition     = aws_lambda_permission.preflight[0].source_arn == "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/*/OPTIONS/{proxy+}"
    error_message = "source_arn is ${aws_lambda_permission.preflight[0].source_arn}."
  }
}

run "custom_domain_maps_the_default_stage_and_exposes_its_dns_target" {
  assert {
    condition     = aws_apigatewayv2_api_mapping.this[0].stage == "$default" && aws_apigatewayv2_api_mapping.this[0].api_id == "a1b2c3"
    error_message = "the API mapping points at ${aws_apigatewayv2_api_mapping.this[0].api_id} stage ${aws_apigatewayv2_api_mapping.this[0].stage}."
  }
  assert {
    condition     = output.custom_domain_target == { domain_name = "d-abc123.execute-api.us-east-1.amazonaws.com", hosted_zone_id = "Z1UJRXOUMOOFQ8" }
    error_message = "custom_domain_target is ${jsonencode(output.custom_domain_target)}."
  }
}
