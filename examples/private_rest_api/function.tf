# The function, packaged as modules/lambda_route packages (its package.py, the same source hash):
# lambda_route itself creates HTTP API routes, which a REST API has no use for.
locals {
  source_dir   = "${path.module}/src"
  source_files = [for f in fileset(local.source_dir, "**") : f if !can(regex("(^|/)__pycache__/|\\.pyc$", f))]
  source_hash  = sha256(join("\n", sort([for f in local.source_files : "${f} ${filesha256("${local.source_dir}/${f}")}"])))
  package_path = "${path.root}/.build/lambda/${var.name}-orders-${substr(local.source_hash, 0, 16)}.zip"
}

resource "terraform_data" "package" {
  triggers_replace = { source_hash = local.source_hash, package_path = local.package_path }

  provisioner "local-exec" {
    interpreter = [var.python_executable, "${path.module}/../../modules/lambda_route/package.py", "--expect-hash", local.source_hash, "--source", local.source_dir]
    command     = local.package_path
  }
}

resource "aws_cloudwatch_log_group" "orders" {
  #checkov:skip=CKV_AWS_338:An example: 30 days of function logs; a deployment needing a year sets it.
  #checkov:skip=CKV_AWS_158:CloudWatch's own encryption; a deployment with a KMS key passes it here.
  name              = "/aws/lambda/${var.name}-orders"
  retention_in_days = 30
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "orders" {
  name_prefix        = "${var.name}-orders-"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "orders" {
  name = "write-own-log-group"
  role = aws_iam_role.orders.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = "${aws_cloudwatch_log_group.orders.arn}:*" }]
  })
}

resource "aws_lambda_function" "orders" {
  #checkov:skip=CKV_AWS_117:The function calls no VPC resource; placing it in the VPC would add ENIs and cold-start latency for nothing.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error to the caller; a DLQ only serves async invokes.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; packages are built reproducibly from reviewed source.
  #checkov:skip=CKV_AWS_115:Reserved concurrency takes from the account pool; the stage's throttling bounds the load instead.
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on "*", outside this function's least-privilege policy.
  #checkov:skip=CKV_AWS_173:No environment variables at all; nothing to encrypt.
  function_name    = "${var.name}-orders"
  role             = aws_iam_role.orders.arn
  handler          = "app.handler"
  runtime          = "python3.13"
  architectures    = ["arm64"]
  filename         = local.package_path
  source_code_hash = local.source_hash
  timeout          = 10

  depends_on = [aws_cloudwatch_log_group.orders, aws_iam_role_policy.orders, terraform_data.package]
}

# API Gateway writes REST API access and execution logs with this account-wide role.
data "aws_iam_policy_document" "assume_apigateway" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  name_prefix        = "${var.name}-apigw-logs-"
  assume_role_policy = data.aws_iam_policy_document.assume_apigateway.json
}

resource "aws_iam_role_policy" "apigateway_logs" {
  #checkov:skip=CKV_AWS_290:API Gateway writes to log groups it names itself (API-GATEWAY-Execution-Logs_{api}/{stage}), which do not exist before it does.
  #checkov:skip=CKV_AWS_355:The same: the log groups are created by API Gateway, so the resource cannot be narrowed beforehand.
  name = "push-to-cloudwatch-logs"
  role = aws_iam_role.apigateway_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"]
      Resource = "*"
    }]
  })
}

resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = aws_iam_role.apigateway_logs.arn
  depends_on          = [aws_iam_role_policy.apigateway_logs]
}
