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
  description = "Python 3 interpreter that runs the packager at apply time."
  type        = string
  default     = "python3"
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
  type        = object({ id = string, execution_arn = string, cors_enabled = bool, preflight_route = bool })
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
