# The resource policy (spec H2): Invoke allowed only through the API's VPC endpoints, optionally
# only to named principals, and an explicit Deny for every request from anywhere else, which no
# identity policy can override.
locals {
  invoke_arn_pattern = "${aws_api_gateway_rest_api.this.execution_arn}/*"
  # "*" (the documented form) or {"AWS": [...]}: decoded from JSON, as the two are of different types.
  allow_principal = jsondecode(length(var.allowed_principals) == 0 ? jsonencode("*") : jsonencode({ AWS = var.allowed_principals }))
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "InvokeThroughTheVpcEndpoints"
        Effect    = "Allow"
        Principal = local.allow_principal
        Action    = "execute-api:Invoke"
        Resource  = local.invoke_arn_pattern
        Condition = { StringEquals = { "aws:SourceVpce" = local.vpc_endpoint_ids } }
      },
      {
        Sid       = "DenyFromAnywhereElse"
        Effect    = "Deny"
        Principal = "*"
        Action    = "execute-api:Invoke"
        Resource  = local.invoke_arn_pattern
        Condition = { StringNotEquals = { "aws:SourceVpce" = local.vpc_endpoint_ids } }
      },
    ]
  })
}

resource "aws_api_gateway_rest_api_policy" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  policy      = local.policy
}
