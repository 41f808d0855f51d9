variable "name" {
  description = "Name of the REST API (also names its log group, security group and usage plan)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.name))
    error_message = "name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "Description of the REST API."
  type        = string
  default     = "Private REST API, reachable only through its VPC endpoints"
}

variable "stage_name" {
  description = "Name of the stage the API is deployed to (the first segment of every URL path)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name must be 1-128 letters, digits, hyphens or underscores."
  }
}

variable "vpc_endpoint_ids" {
  description = "Existing interface VPC endpoints for execute-api (vpce-...) the API is reachable through. May be combined with vpc_endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.vpc_endpoint_ids : can(regex("^vpce-[0-9a-f]{8,17}$", id))])
    error_message = "vpc_endpoint_ids ${join(", ", [for id in var.vpc_endpoint_ids : jsonencode(id) if !can(regex("^vpce-[0-9a-f]{8,17}$", id))])}: each must be a VPC endpoint id, vpce- and 8 to 17 hex digits."
  }
}

variable "vpc_endpoint" {
  description = <<-EOT
    An interface VPC endpoint for execute-api for the module to create (null: none): in subnet_ids
    of vpc_id, with private DNS on, and a security group of its own that admits HTTPS (443) from
    allowed_cidrs only; security_group_ids are attached as well.
  EOT
  type = object({
    vpc_id             = string
    subnet_ids         = list(string)
    allowed_cidrs      = list(string)
    security_group_ids = optional(list(string), [])
    private_dns        = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.vpc_endpoint == null || try(length(var.vpc_endpoint.subnet_ids) > 0, false)
    error_message = "vpc_endpoint.subnet_ids must name at least one subnet (one per Availability Zone for high availability)."
  }
  validation {
    condition     = var.vpc_endpoint == null || try(length(var.vpc_endpoint.allowed_cidrs) > 0 && alltrue([for c in var.vpc_endpoint.allowed_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0" && c != "::/0"]), false)
    error_message = "vpc_endpoint.allowed_cidrs must name at least one CIDR block, none of them 0.0.0.0/0 or ::/0 (the endpoint serves the private network)."
  }
}

variable "allowed_principals" {
  description = "Narrow the resource policy's Allow to these IAM principals (ARNs or 12-digit account ids); empty: any caller that comes through the endpoints. Only for APIs whose routes all use AWS_IAM (an unsigned caller is no principal)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.allowed_principals : can(regex("^([0-9]{12}|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+)$", p))])
    error_message = "allowed_principals ${join(", ", [for p in var.allowed_principals : jsonencode(p) if !can(regex("^([0-9]{12}|arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:.+)$", p))])}: each must be an IAM ARN or a 12-digit account id."
  }
}

variable "routes" {
  description = <<-EOT
    Routes, keyed by "METHOD /path" ("GET /orders/{id}", "ANY /files/{proxy+}", "GET /"), each a
    Lambda proxy integration of function_arn. authorization: NONE or AWS_IAM (SigV4-signed callers
    with execute-api:Invoke). api_key_required needs usage_plan. Paths are at most 6 segments deep.
  EOT
  type = map(object({
    function_arn     = string
    authorization    = optional(string, "NONE")
    api_key_required = optional(bool, false)
  }))

  validation {
    condition     = length(var.routes) > 0
    error_message = "routes must name at least one route."
  }
  validation {
    condition     = alltrue([for key in keys(var.routes) : can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /([A-Za-z0-9._~-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\})(/([A-Za-z0-9._~-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}))*(/\\{[A-Za-z_][A-Za-z0-9_]*\\+\\})?$|^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /(\\{[A-Za-z_][A-Za-z0-9_]*\\+\\})?$", key))])
    error_message = "routes ${join(", ", [for key in keys(var.routes) : jsonencode(key) if !can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /([A-Za-z0-9._~-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\})(/([A-Za-z0-9._~-]+|\\{[A-Za-z_][A-Za-z0-9_]*\\}))*(/\\{[A-Za-z_][A-Za-z0-9_]*\\+\\})?$|^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /(\\{[A-Za-z_][A-Za-z0-9_]*\\+\\})?$", key))])}: a route key is \"METHOD /path\", METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, each path segment a name or a {parameter}, and a greedy {parameter+} only as the last segment."
  }
  validation {
    condition     = alltrue([for key in keys(var.routes) : length(split("/", trim(split(" ", key)[1], "/"))) <= 6])
    error_message = "routes ${join(", ", [for key in keys(var.routes) : jsonencode(key) if length(split("/", trim(split(" ", key)[1], "/"))) > 6])}: paths may be at most 6 segments deep (one resource block per level in the module)."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["NONE", "AWS_IAM"], r.authorization)])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if !contains(["NONE", "AWS_IAM"], r.authorization)])}: authorization must be NONE or AWS_IAM."
  }
  validation {
    condition     = alltrue([for r in values(var.routes) : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", r.function_arn))])
    error_message = "routes ${join(", ", [for key, r in var.routes : jsonencode(key) if !can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", r.function_arn))])}: function_arn must be a Lambda function ARN (arn:aws:lambda:region:account:function:name)."
  }
}

variable "integration_timeout_ms" {
  description = "How long API Gateway waits for a function (50-29000 ms)."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 29000
    error_message = "integration_timeout_ms must be between 50 and 29000."
  }
}

variable "throttling" {
  description = "Stage throttling for every method: steady requests per second and burst."
  type = object({
    rate_limit  = optional(number, 100)
    burst_limit = optional(number, 50)
  })
  default = {}

  validation {
    condition     = var.throttling.rate_limit > 0 && var.throttling.burst_limit > 0 && floor(var.throttling.burst_limit) == var.throttling.burst_limit
    error_message = "throttling.rate_limit must be above 0, and throttling.burst_limit a whole number above 0."
  }
}

variable "logging_level" {
  description = "Execution logging of every method: OFF, ERROR or INFO. Anything but OFF needs the account's API Gateway CloudWatch role (aws_api_gateway_account), as access logs do."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.logging_level)
    error_message = "logging_level must be OFF, ERROR or INFO."
  }
}

variable "xray_tracing" {
  description = "Trace requests with X-Ray."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the access log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the access log group with (null: CloudWatch's own encryption)."
  type        = string
  default     = null
}

variable "usage_plan" {
  description = "A usage plan for per-client throttling and quota (null: none), with one API key per name in api_keys. Routes with api_key_required need it; callers send the key in x-api-key."
  type = object({
    api_keys    = set(string)
    rate_limit  = optional(number, 10)
    burst_limit = optional(number, 20)
    quota = optional(object({
      limit  = number
      period = optional(string, "DAY")
    }))
  })
  default = null

  validation {
    condition     = var.usage_plan == null || try(length(var.usage_plan.api_keys) > 0 && alltrue([for k in var.usage_plan.api_keys : can(regex("^[A-Za-z0-9_-]{1,64}$", k))]), false)
    error_message = "usage_plan.api_keys must name at least one key, each 1-64 letters, digits, hyphens or underscores."
  }
  validation {
    condition     = var.usage_plan == null || try(var.usage_plan.rate_limit > 0 && var.usage_plan.burst_limit > 0, false)
    error_message = "usage_plan.rate_limit and usage_plan.burst_limit must be above 0."
  }
  validation {
    condition     = try(var.usage_plan.quota == null || (var.usage_plan.quota.limit > 0 && contains(["DAY", "WEEK", "MONTH"], var.usage_plan.quota.period)), true)
    error_message = "usage_plan.quota.limit must be above 0 and usage_plan.quota.period one of DAY, WEEK, MONTH."
  }
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
