locals {
  build = var.package_file == null

  # The files package.py puts in the zip, by source directory: everything but byte-code caches
  # (the same rule as package.py's is_packaged).
  source_files = {
    for dir in var.source_dirs : dir => [
      for f in fileset(dir, "**") : f if !can(regex("(^|/)__pycache__/|\\.pyc$", f))
    ]
  }
  # package.py refuses these at apply; checked here too, so the mistake shows at plan time
  # (fileset quietly finds nothing in a directory that does not exist).
  packaged_names  = flatten(values(local.source_files))
  duplicate_names = [for name, copies in { for name in local.packaged_names : name => name... } : name if length(copies) > 1]
  empty_dirs      = [for dir, files in local.source_files : dir if length(files) == 0]

  # Hash of names and contents, never of paths or timestamps: the same sources give the same
  # hash on any machine and checkout. package.py computes it too and refuses to build on a mismatch.
  source_hash = local.build ? sha256(join("\n", [
    for line in sort(flatten([
      for dir, files in local.source_files : [for f in files : "${f} ${filesha256("${dir}/${f}")}"]
    ])) : line
  ])) : null

  build_dir = coalesce(var.build_dir, "${path.root}/.build/lambda")
  # The package is named after its source hash, so an edit changes `filename` (which the provider
  # turns into a code update) and an unchanged source plans nothing, whatever is on disk.
  package_path = local.build ? "${local.build_dir}/${var.function_name}-${substr(local.source_hash, 0, 16)}.zip" : var.package_file
  package_hash = local.build ? local.source_hash : filebase64sha256(var.package_file)

  # Invoke permission per route, scoped to that route: arn/<stage>/<METHOD>/<path>. ANY is `*`;
  # the $default route has its own form (a `/*/*/*` wildcard would not match it).
  route_source_arns = {
    for key in keys(var.routes) : key => (
      key == "$default"
      ? "${var.api.execution_arn}/*/$default"
      : "${var.api.execution_arn}/*/${replace(split(" ", key)[0], "ANY", "*")}${split(" ", key)[1]}"
    )
  }
}

resource "terraform_data" "package" {
  count = local.build ? 1 : 0

  # Rebuilt whenever the provider will read the file: new sources or a new path (both change
  # `filename`), or a new architecture (the provider uploads the code again).
  triggers_replace = {
    source_hash  = local.source_hash
    package_path = local.package_path
    architecture = var.architecture
  }

  lifecycle {
    precondition {
      condition     = length(local.empty_dirs) == 0
      error_message = "source_dirs: no files to package in ${join(", ", local.empty_dirs)} (a missing directory, or only __pycache__ and *.pyc)."
    }
    precondition {
      condition     = length(local.duplicate_names) == 0
      error_message = "source_dirs: ${join(", ", local.duplicate_names)} found in more than one directory; the package root holds each name once."
    }
  }

  provisioner "local-exec" {
    interpreter = concat(
      [var.python_executable, "${path.module}/package.py", "--expect-hash", local.source_hash],
      flatten([for dir in var.source_dirs : ["--source", dir]]),
    )
    command = local.package_path
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days input (30 days by default); callers needing a year set it.
  #checkov:skip=CKV_AWS_158:KMS encryption is the log_kms_key_arn input; by default CloudWatch's own encryption applies.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  # A prefix, not a fixed name: role names are global to the account, function names per region.
  name_prefix        = substr("${var.function_name}-", 0, 38)
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:Handlers call only public AWS endpoints; a VPC would add NAT cost and cold-start latency for nothing.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error to the caller; a DLQ only serves async invokes.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; packages are built reproducibly from reviewed source.
  #checkov:skip=CKV_AWS_115:Reserved concurrency takes from the account pool; API Gateway throttling bounds the load instead.
  #checkov:skip=CKV_AWS_50:X-Ray tracing needs xray:PutTraceSegments on "*", outside this module's least-privilege policy.
  #checkov:skip=CKV_AWS_173:Environment variables hold configuration, never secrets; Lambda encrypts them at rest with an AWS key.
  function_name    = var.function_name
  description      = var.description
  role             = aws_iam_role.this.arn
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  filename         = local.package_path
  source_code_hash = local.package_hash
  tags             = var.tags

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []
    content {
      variables = environment.value
    }
  }

  # The log group exists (with its retention) before the function can write a line, and the
  # package is built before the provider uploads it.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this, terraform_data.package]
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = var.api.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_ms
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:NONE is allowed for routes meant to be public; every route states its authorization_type in var.routes, and a JWT route must carry scopes.
  for_each = var.routes

  api_id               = var.api.id
  route_key            = each.key
  target               = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type   = each.value.authorization_type
  authorizer_id        = each.value.authorizer_id
  authorization_scopes = each.value.authorization_type == "JWT" ? each.value.authorization_scopes : null

  lifecycle {
    # A browser's preflight carries no credentials. An authorized ANY or $default route also
    # matches OPTIONS, so on an API with CORS its authorizer would refuse every preflight, unless
    # an unauthenticated OPTIONS /{proxy+} route (more specific) answers them first.
    precondition {
      condition = !(
        var.api.cors_enabled && !var.api.preflight_route
        && each.value.authorization_type != "NONE"
        && (each.key == "$default" || startswith(each.key, "ANY "))
        && try(var.routes["OPTIONS /{proxy+}"].authorization_type, null) != "NONE"
      )
      error_message = "routes[${jsonencode(each.key)}]: an authorized ANY or $default route on an API with CORS also receives the browsers' preflight OPTIONS requests, which carry no credentials, so its authorizer refuses them and every cross-origin call fails. Set preflight_route on modules/http_api (an unauthenticated OPTIONS /{proxy+} route), or use explicit methods."
    }
  }
}

resource "aws_lambda_permission" "this" {
  for_each = var.routes

  statement_id  = "apigw-${substr(replace(each.key, "/[^A-Za-z0-9_-]+/", "-"), 0, 60)}-${substr(sha256(each.key), 0, 8)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = local.route_source_arns[each.key]
}
