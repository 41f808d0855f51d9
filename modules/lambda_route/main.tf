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

  # A requirements.txt at the top of a source directory: its dependencies are installed into the
  # package for the function's platform, so the package also depends on architecture and runtime.
  requirements_files = local.build ? [for dir, files in local.source_files : "${dir}/requirements.txt" if contains(files, "requirements.txt")] : []
  has_requirements   = length(local.requirements_files) > 0
  python_version     = trimprefix(var.runtime, "python")
  pip_platform       = "manylinux2014_${var.architecture == "arm64" ? "aarch64" : "x86_64"}"
  # What names the package: the sources, plus the platform when dependencies are installed.
  build_hash = local.build ? (
    local.has_requirements ? sha256("${local.source_hash} ${local.pip_platform} ${local.python_version}") : local.source_hash
  ) : null

  build_dir = coalesce(var.build_dir, "${path.root}/.build/lambda")
  # The package is named after its build hash, so an edit changes `filename` (which the provider
  # turns into a code update) and an unchanged source plans nothing in AWS, whatever is on disk.
  package_path = local.build ? "${local.build_dir}/${var.function_name}-${substr(local.build_hash, 0, 16)}.zip" : var.package_file
  package_hash = local.build ? local.build_hash : filebase64sha256(var.package_file)

  # S3 packaging: the object is named after the package's content hash (hex), so a new source is
  # a new key and an unchanged one keeps its object.
  s3          = var.package_s3_bucket != null
  s3_key      = local.s3 ? "${var.package_s3_prefix}${local.build ? local.build_hash : filesha256(var.package_file)}.zip" : null
  create_role = var.role_arn == null
  role_arn    = local.create_role ? aws_iam_role.this[0].arn : var.role_arn

  # Where the packager runs: python_executable, else the first of python3 and python that is
  # Python 3 (a `python` may still be Python 2 on older runners).
  find_python = <<-EOT
    for py in python3 python; do
      if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
        exec "$py" "$@"
      fi
    done
    echo "lambda_route: no Python 3.9+ found as python3 or python on PATH; set the python_executable input" >&2
    exit 127
  EOT
  packager_args = concat(
    ["${path.module}/package.py", "--expect-hash", coalesce(local.source_hash, "none")],
    flatten([for dir in var.source_dirs : ["--source", dir]]),
    local.has_requirements ? ["--pip-platform", local.pip_platform, "--python-version", local.python_version] : [],
  )
  packager = var.python_executable != null ? concat([var.python_executable], local.packager_args) : concat(["sh", "-c", local.find_python, "python"], local.packager_args)

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

  # Rebuilt whenever something may read the file: new sources, a new path, a new architecture
  # (the provider uploads the code again), and whenever the zip is not on disk at plan time: a
  # fresh clone, another CI runner, or a run after an apply that built it and then failed. The
  # last key is unknown until apply when the zip is missing (timestamp() is known at apply only)
  # and resolves to the same constant, so the plan after that build is empty again.
  triggers_replace = {
    source_hash  = local.source_hash
    package_path = local.package_path
    architecture = var.architecture
    on_disk      = fileexists(local.package_path) ? "yes" : "yes${substr(timestamp(), 0, 0)}"
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
    interpreter = local.packager
    command     = local.package_path
  }
}

resource "aws_s3_object" "package" {
  #checkov:skip=CKV_AWS_186:Encryption is the bucket's default (package_s3_bucket); the caller picks its key there.
  count = local.s3 ? 1 : 0

  bucket = var.package_s3_bucket
  key    = local.s3_key
  source = local.package_path
  tags   = var.tags

  # The previous package stays until the function points at the new one.
  lifecycle {
    create_before_destroy = true
  }
  depends_on = [terraform_data.package]
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
  count = local.create_role ? 1 : 0

  # A prefix, not a fixed name: role names are global to the account, function names per region.
  name_prefix          = substr("${var.function_name}-", 0, 38)
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # What Lambda needs to attach the function to the VPC (the actions of AWSLambdaVPCAccessExecutionRole,
  # without its logs:* on every log group). EC2 grants these on "*" only.
  dynamic "statement" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [1] : []
    content {
      sid = "ManageVpcNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }

  # What AWSXRayDaemonWriteAccess grants a function: X-Ray takes no resource-level permissions.
  dynamic "statement" {
    for_each = var.tracing_mode != null ? [1] : []
    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
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
  count = local.create_role ? 1 : 0

  name   = "least-privilege"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:VPC placement is the vpc_subnet_ids input; handlers that call only public AWS endpoints need no VPC (NAT cost, cold starts).
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error to the caller; a DLQ only serves async invokes.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; packages are built reproducibly from reviewed source.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the reserved_concurrent_executions input; by default API Gateway throttling bounds the load instead.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is the tracing_mode input (with its IAM); off by default, as it costs per trace.
  #checkov:skip=CKV_AWS_173:Environment variables hold configuration, never secrets; a customer key is the kms_key_arn input, else Lambda's AWS key.
  function_name                  = var.function_name
  description                    = var.description
  role                           = local.role_arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  filename                       = local.s3 ? null : local.package_path
  s3_bucket                      = local.s3 ? var.package_s3_bucket : null
  s3_key                         = local.s3 ? aws_s3_object.package[0].key : null
  source_code_hash               = local.package_hash
  layers                         = length(var.layers) > 0 ? var.layers : null
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []
    content {
      variables = environment.value
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode != null ? [var.tracing_mode] : []
    content {
      mode = tracing_config.value
    }
  }

  dynamic "logging_config" {
    for_each = var.log_format != null ? [var.log_format] : []
    content {
      log_format            = logging_config.value
      log_group             = aws_cloudwatch_log_group.this.name
      application_log_level = var.application_log_level
      system_log_level      = var.system_log_level
    }
  }

  dynamic "ephemeral_storage" {
    for_each = var.ephemeral_storage_mb != null ? [var.ephemeral_storage_mb] : []
    content {
      size = ephemeral_storage.value
    }
  }

  lifecycle {
    precondition {
      condition     = (length(var.vpc_subnet_ids) > 0) == (length(var.vpc_security_group_ids) > 0)
      error_message = "vpc_subnet_ids and vpc_security_group_ids: set both (a function in a VPC) or neither."
    }
    precondition {
      condition     = var.log_format == "JSON" || (var.application_log_level == null && var.system_log_level == null)
      error_message = "application_log_level and system_log_level need log_format = \"JSON\" (Lambda filters by level only in JSON logs)."
    }
    precondition {
      condition     = local.create_role || (length(var.policy_statements) == 0 && var.role_permissions_boundary == null)
      error_message = "role_arn: a role you bring is used as it is; policy_statements and role_permissions_boundary apply only to the role the module creates."
    }
    precondition {
      condition     = var.package_s3_bucket != null || var.package_s3_prefix == ""
      error_message = "package_s3_prefix needs package_s3_bucket."
    }
    precondition {
      condition     = try(local.alarms.duration_p99.threshold < var.timeout * 1000, true)
      error_message = "alarms.duration_p99_threshold_ms (${try(local.alarms.duration_p99.threshold, "none")}) must be below the timeout (${var.timeout * 1000} ms): a duration never reaches it."
    }
  }

  # The log group exists (with its retention) before the function can write a line, and the
  # package is built (and uploaded) before the provider reads it.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this, terraform_data.package]
}

locals {
  # Alarms on the function's own metrics; p99 Duration defaults to 80 % of the timeout.
  alarms = var.alarms == null ? {} : {
    errors = {
      metric      = "Errors", statistic = "Sum", extended_statistic = null, threshold = var.alarms.errors_threshold
      description = "${var.function_name}: ${var.alarms.errors_threshold} or more errors in ${var.alarms.period_seconds} s."
    }
    throttles = {
      metric      = "Throttles", statistic = "Sum", extended_statistic = null, threshold = var.alarms.throttles_threshold
      description = "${var.function_name}: ${var.alarms.throttles_threshold} or more throttled invocations in ${var.alarms.period_seconds} s."
    }
    duration_p99 = {
      metric      = "Duration", statistic = null, extended_statistic = "p99"
      threshold   = coalesce(var.alarms.duration_p99_threshold_ms, floor(var.timeout * 800))
      description = "${var.function_name}: p99 duration at or above ${coalesce(var.alarms.duration_p99_threshold_ms, floor(var.timeout * 800))} ms (timeout ${var.timeout} s)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.function_name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended_statistic
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  # No invocations is no error: missing data never raises an alarm.
  treat_missing_data = "notBreaching"
  alarm_actions      = [var.alarms.sns_topic_arn]
  ok_actions         = [var.alarms.sns_topic_arn]
  tags               = var.tags
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

# The role and its policy became optional (role_arn): states from before keep their objects.
moved {
  from = aws_iam_role.this
  to   = aws_iam_role.this[0]
}

moved {
  from = aws_iam_role_policy.this
  to   = aws_iam_role_policy.this[0]
}
