locals {
  routes = {
    for key, route in var.routes : key => merge(route, {
      method = split(" ", key)[0]
      path   = split(" ", key)[1]
      # "/" has no segments; "/orders/{id}" has ["orders", "{id}"].
      segments = compact(split("/", split(" ", key)[1]))
    })
  }

  # The resource tree, one level per depth: every path prefix of every route, by its full path.
  # Terraform has no recursion, so each depth has its own resource block, whose parent is in the
  # block of the depth above (resources "/orders" then "/orders/{id}"). 6 levels: the max route depth.
  max_depth = 6
  levels = [
    for depth in range(1, local.max_depth + 1) : {
      for prefix in distinct(flatten([
        for route in values(local.routes) : length(route.segments) >= depth ? ["/${join("/", slice(route.segments, 0, depth))}"] : []
      ])) :
      prefix => {
        part   = element(split("/", prefix), depth)
        parent = depth == 1 ? "/" : "/${join("/", slice(split("/", prefix), 1, depth))}"
      }
    }
  ]

  resource_ids = merge(
    { "/" = aws_api_gateway_rest_api.this.root_resource_id },
    { for path, r in aws_api_gateway_resource.depth1 : path => r.id },
    { for path, r in aws_api_gateway_resource.depth2 : path => r.id },
    { for path, r in aws_api_gateway_resource.depth3 : path => r.id },
    { for path, r in aws_api_gateway_resource.depth4 : path => r.id },
    { for path, r in aws_api_gateway_resource.depth5 : path => r.id },
    { for path, r in aws_api_gateway_resource.depth6 : path => r.id },
  )

  # Path parameters each method declares as required, so request validation refuses a request
  # without them: {id} -> method.request.path.id ({proxy+} -> method.request.path.proxy).
  path_parameters = {
    for key, route in local.routes : key => {
      for segment in route.segments :
      "method.request.path.${trimsuffix(trimprefix(trimsuffix(segment, "}"), "{"), "+")}" => true
      if startswith(segment, "{")
    }
  }

  # Invoke permission per method, scoped to its path: arn/<stage>/<METHOD>/<resource path>, ANY as `*`.
  source_arns = {
    for key, route in local.routes : key => "${aws_api_gateway_rest_api.this.execution_arn}/*/${route.method == "ANY" ? "*" : route.method}${route.path}"
  }
}

resource "aws_api_gateway_rest_api" "this" {
  #checkov:skip=CKV_AWS_237:create_before_destroy on the API would create a second API with a new id (and new endpoint URLs); the deployment is the resource replaced safely.
  name        = var.name
  description = var.description
  tags        = var.tags

  endpoint_configuration {
    types            = ["PRIVATE"]
    vpc_endpoint_ids = local.vpc_endpoint_ids
  }

  lifecycle {
    precondition {
      condition     = length(var.vpc_endpoint_ids) > 0 || var.vpc_endpoint != null
      error_message = "Set vpc_endpoint_ids, vpc_endpoint or both: a private API is reachable only through interface VPC endpoints."
    }
    precondition {
      condition     = length(var.allowed_principals) == 0 || alltrue([for r in values(var.routes) : r.authorization == "AWS_IAM"])
      error_message = "allowed_principals narrows the policy to signed callers: routes ${join(", ", [for key, r in var.routes : jsonencode(key) if r.authorization != "AWS_IAM"])} must use AWS_IAM authorization, or no caller could reach them."
    }
    precondition {
      condition     = var.usage_plan != null || !anytrue([for r in values(var.routes) : r.api_key_required])
      error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if r.api_key_required])} require an API key: set usage_plan, which creates the keys."
    }
  }
}

resource "aws_api_gateway_resource" "depth1" {
  for_each    = local.levels[0]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "depth2" {
  for_each    = local.levels[1]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth1[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "depth3" {
  for_each    = local.levels[2]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth2[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "depth4" {
  for_each    = local.levels[3]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth3[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "depth5" {
  for_each    = local.levels[4]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth4[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "depth6" {
  for_each    = local.levels[5]
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth5[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_request_validator" "this" {
  name                        = "parameters-and-body"
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  validate_request_parameters = true
  validate_request_body       = true
}

resource "aws_api_gateway_method" "this" {
  #checkov:skip=CKV_AWS_59:NONE is for routes open to every caller inside the network; the resource policy already refuses anyone outside the VPC endpoints, and each route states its authorization.
  #checkov:skip=CKV2_AWS_53:Request validation is on (request_validator_id); checkov does not follow the reference to the validator.
  for_each = local.routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = local.resource_ids[each.value.path]
  http_method          = each.value.method
  authorization        = each.value.authorization
  api_key_required     = each.value.api_key_required
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_parameters   = local.path_parameters[each.key]
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.this[each.key].resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  # The invoke ARN of the function, from its ARN (partition and region are its 2nd and 4th fields).
  uri                  = "arn:${split(":", each.value.function_arn)[1]}:apigateway:${split(":", each.value.function_arn)[3]}:lambda:path/2015-03-31/functions/${each.value.function_arn}/invocations"
  timeout_milliseconds = var.integration_timeout_ms
}

resource "aws_lambda_permission" "this" {
  for_each = local.routes

  statement_id  = "apigw-rest-${substr(replace(each.key, "/[^A-Za-z0-9_-]+/", "-"), 0, 55)}-${substr(sha256("${var.name} ${each.key}"), 0, 8)}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_arn
  principal     = "apigateway.amazonaws.com"
  source_arn    = local.source_arns[each.key]
}
