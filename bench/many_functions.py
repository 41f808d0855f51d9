"""A generated Terraform root with many functions, for bench/startup.py's `--functions N`.

Written in another style than this repository's root: plain resources with `for_each` (no
module), one shared role with the AWS managed AWSLambdaBasicExecutionRole, packages zipped here
and deployed from S3 objects, one HTTP API with a route, integration and invoke permission per
function, half of the routes behind a Cognito JWT authorizer. S3, not `filename`: the AWS
provider creates `filename` functions one at a time (a lock held through each create and its
fixed 5 s wait), which no local stack can change.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

HANDLER = '''import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"function": context.function_name})}
'''

MAIN_TF = '''terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

locals {
  functions = { for i in range(%(count)d) : format("fn%%02d", i) => i }
}

resource "aws_s3_bucket" "code" {
  bucket_prefix = "many-functions-"
  force_destroy = true
}

resource "aws_s3_object" "code" {
  for_each = local.functions
  bucket   = aws_s3_bucket.code.id
  key      = "${each.key}.zip"
  source   = "${path.module}/packages/${each.key}.zip"
  etag     = filemd5("${path.module}/packages/${each.key}.zip")
}

resource "aws_iam_role" "functions" {
  name_prefix = "many-functions-"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.functions.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_cloudwatch_log_group" "functions" {
  for_each          = local.functions
  name              = "/aws/lambda/many-${each.key}"
  retention_in_days = 7
}

resource "aws_lambda_function" "this" {
  for_each         = local.functions
  function_name    = "many-${each.key}"
  role             = aws_iam_role.functions.arn
  runtime          = "python3.12"
  handler          = "index.handler"
  s3_bucket        = aws_s3_bucket.code.id
  s3_key           = aws_s3_object.code[each.key].key
  source_code_hash = filebase64sha256("${path.module}/packages/${each.key}.zip")
  depends_on       = [aws_iam_role_policy_attachment.logs, aws_cloudwatch_log_group.functions]
}

resource "aws_cognito_user_pool" "users" {
  name = "many-functions"
}

resource "aws_cognito_user_pool_client" "app" {
  name         = "app"
  user_pool_id = aws_cognito_user_pool.users.id
}

resource "aws_apigatewayv2_api" "this" {
  name          = "many-functions"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  jwt_configuration {
    issuer   = "https://cognito-idp.us-east-1.amazonaws.com/${aws_cognito_user_pool.users.id}"
    audience = [aws_cognito_user_pool_client.app.id]
  }
}

resource "aws_apigatewayv2_integration" "this" {
  for_each               = local.functions
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  for_each           = local.functions
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "GET /${each.key}"
  target             = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"
  authorization_type = each.value %% 2 == 0 ? "NONE" : "JWT"
  authorizer_id      = each.value %% 2 == 0 ? null : aws_apigatewayv2_authorizer.jwt.id
}

resource "aws_lambda_permission" "api" {
  for_each      = local.functions
  statement_id  = "api"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/GET/${each.key}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true
}

output "api_id" {
  value = aws_apigatewayv2_api.this.id
}
'''


def write_root(directory: Path, count: int) -> Path:
    """A root of `count` functions in `directory` (created), packages included; returns it."""
    packages = directory / "packages"
    packages.mkdir(parents=True)
    for i in range(count):
        with zipfile.ZipFile(packages / f"fn{i:02d}.zip", "w") as package:
            info = zipfile.ZipInfo("index.py", date_time=(1980, 1, 1, 0, 0, 0))
            package.writestr(info, HANDLER)
    (directory / "main.tf").write_text(MAIN_TF % {"count": count})
    return directory
