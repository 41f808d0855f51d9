variable "function_name" {
  description = "Name of the Lambda function (also names its log group, role prefix and package)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the function."
  type        = string
  default     = ""
}

variable "source_dirs" {
  description = "Directories merged, in order, into the root of the package built at apply time (e.g. the handler's folder and a shared folder). Leave empty when package_file is set."
  type        = list(string)
  default     = []
}

variable "package_file" {
  description = "Path to a prebuilt zip (for pipelines that build once). When set, nothing is built and source_dirs must be empty."
  type        = string
  default     = null

  validation {
    condition     = (var.package_file == null) != (length(var.source_dirs) == 0)
    error_message = "Set exactly one of source_dirs (build at apply time) or package_file (prebuilt zip)."
  }
}

variable "build_dir" {
  description = "Where packages built from source_dirs are written. Default: .build/lambda under the root module."
  type        = string
  default     = null
}

variable "python_executable" {
  description = "Python 3 interpreter that runs the packager at apply time. Null: the first of python3 and python on PATH that is Python 3.9+."
  type        = string
  default     = null

  validation {
    condition     = var.python_executable == null || try(trimspace(var.python_executable) != "", false)
    error_message = "python_executable must be an interpreter name or path, or null to look for python3, then python."
  }
}

variable "package_s3_bucket" {
  description = "S3 bucket the package is uploaded to (key: package_s3_prefix, the package hash, .zip) and deployed from. Null: uploaded directly (filename)."
  type        = string
  default     = null

  validation {
    condition     = var.package_s3_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.package_s3_bucket))
    error_message = "package_s3_bucket must be an S3 bucket name: 3-63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit."
  }
}

variable "package_s3_prefix" {
  description = "Key prefix of the package objects in package_s3_bucket (e.g. \"lambda/\")."
  type        = string
  default     = ""

  validation {
    condition     = !startswith(var.package_s3_prefix, "/") && length(var.package_s3_prefix) <= 900
    error_message = "package_s3_prefix must not start with / and must be at most 900 characters."
  }
}

variable "handler" {
  description = "Handler entry point, module.function."
  type        = string
  default     = "app.handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_./]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like module.function, e.g. app.handler."
  }
}

variable "runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "architecture" {
  description = "Instruction set: arm64 (cheaper per ms) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory in MB (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. API Gateway stops waiting after integration_timeout_ms (30 s at most)."
  type        = number
  default     = 10

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for name in keys(var.environment) :
      can(regex("^[A-Za-z][A-Za-z0-9_]*$", name)) && !startswith(name, "AWS_")
    ])
    error_message = "environment ${join(", ", [for name in keys(var.environment) : name if !(can(regex("^[A-Za-z][A-Za-z0-9_]*$", name)) && !startswith(name, "AWS_"))])}: keys must be letters, digits and underscores, start with a letter, and not start with AWS_ (reserved by Lambda)."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the log group with (null: CloudWatch's own encryption)."
  type        = string
  default     = null

  validation {
    # CloudWatch Logs takes a key ARN only: not a key id, not an alias (as in http_api).
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN that encrypts the function's environment variables (null: Lambda's AWS-managed key)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to attach the function to (with vpc_security_group_ids). Empty: no VPC. The role then may manage the function's network interfaces."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.vpc_subnet_ids) <= 16 && alltrue([for id in var.vpc_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "vpc_subnet_ids must be at most 16 subnet ids (subnet-<hex>)."
  }
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function's network interfaces (with vpc_subnet_ids)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.vpc_security_group_ids) <= 5 && alltrue([for id in var.vpc_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "vpc_security_group_ids must be at most 5 security group ids (sg-<hex>)."
  }
}

variable "layers" {
  description = "Lambda layer version ARNs, in order (at most 5)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.layers) <= 5 && alltrue([for arn in var.layers : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]{1,140}:[0-9]+$", arn))])
    error_message = "layers must be at most 5 layer version ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing: Active or PassThrough (the role may then write traces). Null: no tracing configuration."
  type        = string
  default     = null

  validation {
    condition     = var.tracing_mode == null || contains(["Active", "PassThrough"], coalesce(var.tracing_mode, "Active"))
    error_message = "tracing_mode must be Active, PassThrough or null."
  }
}

variable "log_format" {
  description = "Log format: Text or JSON (JSON allows application_log_level and system_log_level). Null: Lambda's default (Text)."
  type        = string
  default     = null

  validation {
    condition     = var.log_format == null || contains(["Text", "JSON"], coalesce(var.log_format, "Text"))
    error_message = "log_format must be Text, JSON or null."
  }
}

variable "application_log_level" {
  description = "Lowest level of the function's own JSON logs that reaches CloudWatch (needs log_format JSON)."
  type        = string
  default     = null

  validation {
    condition     = var.application_log_level == null || contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], coalesce(var.application_log_level, "INFO"))
    error_message = "application_log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "system_log_level" {
  description = "Lowest level of Lambda's own (platform) JSON logs that reaches CloudWatch (needs log_format JSON)."
  type        = string
  default     = null

  validation {
    condition     = var.system_log_level == null || contains(["DEBUG", "INFO", "WARN"], coalesce(var.system_log_level, "INFO"))
    error_message = "system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the function, taken from the account's pool (0 stops every invocation). Null: unreserved."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions, false)
    error_message = "reserved_concurrent_executions must be a whole number, 0 or more, or null for unreserved."
  }
}

variable "ephemeral_storage_mb" {
  description = "Size of /tmp in MB (512-10240). Null: Lambda's default, 512."
  type        = number
  default     = null

  validation {
    condition     = var.ephemeral_storage_mb == null || try(var.ephemeral_storage_mb >= 512 && var.ephemeral_storage_mb <= 10240 && floor(var.ephemeral_storage_mb) == var.ephemeral_storage_mb, false)
    error_message = "ephemeral_storage_mb must be a whole number of MB between 512 and 10240."
  }
}

variable "role_arn" {
  description = "An execution role you manage: the module creates none (nor its policy). It must let the function write its logs, and any VPC or X-Ray access it needs."
  type        = string
  default     = null

  validation {
    condition     = var.role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", var.role_arn))
    error_message = "role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of the permissions boundary policy of the role the module creates."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9+=,.@_/-]+$", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

variable "alarms" {
  description = "CloudWatch alarms on the function's Errors, Throttles and p99 Duration, notifying an SNS topic. Null: no alarms."
  type = object({
    sns_topic_arn             = string
    errors_threshold          = optional(number, 1)
    throttles_threshold       = optional(number, 1)
    duration_p99_threshold_ms = optional(number)
    period_seconds            = optional(number, 300)
    evaluation_periods        = optional(number, 1)
  })
  default = null

  validation {
    condition     = var.alarms == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", var.alarms.sns_topic_arn))
    error_message = "alarms.sns_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."
  }
  validation {
    condition     = var.alarms == null || try(var.alarms.errors_threshold >= 1 && var.alarms.throttles_threshold >= 1 && coalesce(var.alarms.duration_p99_threshold_ms, 1) >= 1, false)
    error_message = "alarms: errors_threshold, throttles_threshold and duration_p99_threshold_ms must be 1 or more."
  }
  validation {
    condition     = var.alarms == null || try(contains([10, 30], var.alarms.period_seconds) || (var.alarms.period_seconds >= 60 && var.alarms.period_seconds % 60 == 0), false)
    error_message = "alarms.period_seconds must be 10, 30 or a multiple of 60."
  }
  validation {
    condition     = var.alarms == null || try(var.alarms.evaluation_periods >= 1 && floor(var.alarms.evaluation_periods) == var.alarms.evaluation_periods, false)
    error_message = "alarms.evaluation_periods must be a whole number, 1 or more."
  }
}

variable "policy_statements" {
  description = "Extra IAM statements for the function's role, beyond writing to its own log group."
  type = list(object({
    sid       = optional(string)
    effect    = optional(string, "Allow")
    actions   = list(string)
    resources = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.policy_statements : contains(["Allow", "Deny"], s.effect) && length(s.actions) > 0 && length(s.resources) > 0])
    error_message = "policy_statements: effect must be Allow or Deny, and actions and resources must not be empty."
  }
}

variable "api" {
  description = "The HTTP API the routes belong to: modules/http_api's api output (id, execution ARN, and whether it has CORS and a preflight route, which routes are checked against)."
  type = object({
    id              = string
    execution_arn   = string
    cors_enabled    = bool
    preflight_route = bool
  })
}

variable "integration_timeout_ms" {
  description = "How long API Gateway waits for the function (50-30000 ms)."
  type        = number
  default     = 30000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 30000
    error_message = "integration_timeout_ms must be between 50 and 30000."
  }
}

variable "routes" {
  description = <<-EOT
    Routes served by this function, keyed by route key ("GET /hello", "ANY /items/{id}", "$default").
    authorization_type: NONE, JWT, AWS_IAM or CUSTOM (a Lambda authorizer). JWT and CUSTOM need
    authorizer_id; JWT needs authorization_scopes (any one of them grants access).
  EOT
  type = map(object({
    authorization_type   = optional(string, "NONE")
    authorizer_id        = optional(string)
    authorization_scopes = optional(list(string), [])
  }))

  # Each message names the routes it refuses: one map holds every route of the function.
  validation {
    condition     = length(var.routes) > 0
    error_message = "routes must name at least one route."
  }
  validation {
    condition     = alltrue([for key in keys(var.routes) : key == "$default" || can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^ ]*$", key))])
    error_message = "routes ${join(", ", [for key in keys(var.routes) : jsonencode(key) if !(key == "$default" || can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^ ]*$", key)))])}: a route key is \"$default\" or \"METHOD /path\" with METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["NONE", "JWT", "AWS_IAM", "CUSTOM"], r.authorization_type)])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if !contains(["NONE", "JWT", "AWS_IAM", "CUSTOM"], r.authorization_type)])}: authorization_type must be NONE, JWT, AWS_IAM or CUSTOM."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : r.authorization_type != "JWT" || length(r.authorization_scopes) > 0])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if r.authorization_type == "JWT" && length(r.authorization_scopes) == 0])}: a JWT route needs authorization_scopes. Without scopes API Gateway accepts any valid token of the audience, Cognito ID tokens included."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : length(r.authorization_scopes) <= 10])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if length(r.authorization_scopes) > 10])}: API Gateway allows at most 10 authorization_scopes per route."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : r.authorization_type == "JWT" || length(r.authorization_scopes) == 0])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if r.authorization_type != "JWT" && length(r.authorization_scopes) > 0])}: authorization_scopes apply to JWT routes only."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["JWT", "CUSTOM"], r.authorization_type) == (r.authorizer_id != null)])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if contains(["JWT", "CUSTOM"], r.authorization_type) != (r.authorizer_id != null)])}: JWT and CUSTOM routes need an authorizer_id; NONE and AWS_IAM routes take none."
  }
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
