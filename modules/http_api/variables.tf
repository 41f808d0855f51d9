variable "name" {
  description = "Name of the HTTP API (also names its access log group)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", var.name))
    error_message = "name must be 1-128 letters, digits, hyphens, underscores or dots."
  }
}

variable "description" {
  description = "Description of the API."
  type        = string
  default     = ""
}

variable "cors" {
  description = "CORS configuration; API Gateway then answers preflight requests itself. Null: no CORS."
  type = object({
    allow_origins     = list(string)
    allow_methods     = optional(list(string), ["GET", "POST", "PUT", "PATCH", "DELETE"])
    allow_headers     = optional(list(string), ["authorization", "content-type"])
    expose_headers    = optional(list(string), [])
    max_age_seconds   = optional(number, 300)
    allow_credentials = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.cors == null || length(try(var.cors.allow_origins, [])) > 0
    error_message = "cors.allow_origins must name at least one origin."
  }
  validation {
    condition     = var.cors == null || alltrue([for o in try(var.cors.allow_origins, []) : o == "*" || can(regex("^https?://[^/\\s]+$", o))])
    error_message = "cors.allow_origins entries must be \"*\" or scheme://host[:port] with no path."
  }
  validation {
    condition     = var.cors == null || !(try(var.cors.allow_credentials, false) && contains(try(var.cors.allow_origins, []), "*"))
    error_message = "cors: allow_credentials cannot be combined with the \"*\" origin (browsers refuse it and API Gateway rejects it)."
  }
  validation {
    condition     = var.cors == null || alltrue([for m in try(var.cors.allow_methods, []) : contains(["*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], m)])
    error_message = "cors.allow_methods entries must be *, GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS."
  }
  validation {
    condition     = var.cors == null || (try(var.cors.max_age_seconds, 0) >= 0 && try(var.cors.max_age_seconds, 0) <= 86400)
    error_message = "cors.max_age_seconds must be between 0 and 86400."
  }
}

variable "jwt_authorizers" {
  description = "JWT authorizers keyed by a short name that routes refer to: the token issuer and the accepted audiences (client ids)."
  type = map(object({
    issuer          = string
    audience        = list(string)
    identity_source = optional(string, "$request.header.Authorization")
  }))
  default = {}

  validation {
    condition     = alltrue([for a in values(var.jwt_authorizers) : startswith(a.issuer, "https://")])
    error_message = "jwt_authorizers: issuer must be an https:// URL (API Gateway fetches its /.well-known/openid-configuration)."
  }
  validation {
    condition     = alltrue([for a in values(var.jwt_authorizers) : length(a.audience) >= 1 && length(a.audience) <= 50])
    error_message = "jwt_authorizers: audience must list 1 to 50 client ids."
  }
  validation {
    condition     = alltrue([for a in values(var.jwt_authorizers) : can(regex("^\\$request\\.(header|querystring)\\.[A-Za-z0-9_-]+$", a.identity_source))])
    error_message = "jwt_authorizers: identity_source must be $request.header.<name> or $request.querystring.<name>."
  }
}

variable "lambda_authorizers" {
  description = "Lambda REQUEST authorizers (payload 2.0) keyed by a short name that routes refer to."
  type = map(object({
    function_name           = string
    invoke_arn              = string
    identity_sources        = optional(list(string), ["$request.header.Authorization"])
    result_ttl_seconds      = optional(number, 0)
    enable_simple_responses = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for a in values(var.lambda_authorizers) : a.result_ttl_seconds >= 0 && a.result_ttl_seconds <= 3600])
    error_message = "lambda_authorizers: result_ttl_seconds must be between 0 and 3600."
  }
  validation {
    condition     = alltrue([for a in values(var.lambda_authorizers) : a.result_ttl_seconds == 0 || length(a.identity_sources) > 0])
    error_message = "lambda_authorizers: caching (result_ttl_seconds > 0) needs identity_sources to key the cache on."
  }
  validation {
    condition = alltrue(flatten([for a in values(var.lambda_authorizers) : [
      for s in a.identity_sources : can(regex("^\\$(request\\.(header|querystring)\\.[A-Za-z0-9_-]+|context\\.[A-Za-z0-9_.]+|stageVariables\\.[A-Za-z0-9_]+)$", s))
    ]]))
    error_message = "lambda_authorizers: identity_sources entries must be $request.header.<name>, $request.querystring.<name>, $context.<variable> or $stageVariables.<name>."
  }
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second allowed on every route of the stage (route_settings may lower it per route)."
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be greater than 0."
  }
}

variable "throttling_burst_limit" {
  description = "Requests the stage accepts at once before the rate applies (the token bucket's size)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_burst_limit >= 1 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number of at least 1."
  }
}

variable "detailed_metrics_enabled" {
  description = "Publish CloudWatch metrics per route (billed as custom metrics), not only per stage."
  type        = bool
  default     = false
}

variable "route_settings" {
  description = "Settings of single routes by route key (\"GET /orders\", \"$default\"): throttling and detailed metrics; unset fields keep the stage's defaults."
  type = map(object({
    throttling_rate_limit    = optional(number)
    throttling_burst_limit   = optional(number)
    detailed_metrics_enabled = optional(bool)
  }))
  default = {}

  validation {
    condition     = alltrue([for key in keys(var.route_settings) : key == "$default" || can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^ ]*$", key))])
    error_message = "route_settings ${join(", ", [for key in keys(var.route_settings) : jsonencode(key) if !(key == "$default" || can(regex("^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[^ ]*$", key)))])}: keys are route keys, \"$default\" or \"METHOD /path\" with METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS."
  }
  validation {
    condition     = alltrue([for s in values(var.route_settings) : s.throttling_rate_limit == null || try(s.throttling_rate_limit > 0, false)])
    error_message = "route_settings ${join(", ", [for key, s in var.route_settings : jsonencode(key) if !(s.throttling_rate_limit == null || try(s.throttling_rate_limit > 0, false))])}: throttling_rate_limit must be greater than 0."
  }
  validation {
    condition     = alltrue([for s in values(var.route_settings) : s.throttling_burst_limit == null || try(s.throttling_burst_limit >= 1 && floor(s.throttling_burst_limit) == s.throttling_burst_limit, false)])
    error_message = "route_settings ${join(", ", [for key, s in var.route_settings : jsonencode(key) if !(s.throttling_burst_limit == null || try(s.throttling_burst_limit >= 1 && floor(s.throttling_burst_limit) == s.throttling_burst_limit, false))])}: throttling_burst_limit must be a whole number of at least 1."
  }
}

variable "preflight_route" {
  description = "Create an unauthenticated OPTIONS /{proxy+} route for browser preflights, served by this Lambda function (it answers any 2xx; API Gateway adds the CORS headers). Needed by an authorized ANY or $default route on an API with CORS. Null: no such route."
  type = object({
    function_name = string
    invoke_arn    = string
  })
  default = null

  validation {
    condition     = var.preflight_route == null || can(regex("^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[^/]+/invocations$", try(var.preflight_route.invoke_arn, "")))
    error_message = "preflight_route.invoke_arn must be a Lambda function's invoke ARN (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations)."
  }
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

  validation {
    # CloudWatch Logs takes a key ARN only: not a key id, not an alias.
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."
  }
}

variable "disable_execute_api_endpoint" {
  description = "Turn off the default https://<id>.execute-api.<region>.amazonaws.com endpoint (when a custom domain is the only way in)."
  type        = bool
  default     = false
}

variable "custom_domain" {
  description = "Custom domain for the API with an ACM certificate in the same region. Null (the default): no domain is created."
  type = object({
    domain_name     = string
    certificate_arn = string
    mapping_key     = optional(string)
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex("^arn:aws[a-z-]*:acm:", try(var.custom_domain.certificate_arn, "")))
    error_message = "custom_domain.certificate_arn must be an ACM certificate ARN."
  }
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
