variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "name" {
  description = "Name of the stack: the user pool, the API, and the prefix of the function names."
  type        = string
  default     = "notes-api"

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,28}[a-z0-9])?$", var.name)) && !can(regex("aws|amazon|cognito", var.name))
    error_message = "name must be 1-30 lower-case letters, digits or inner hyphens, without aws, amazon or cognito."
  }
}

variable "api_identifier" {
  description = "Identifier of the OAuth resource server; route scopes are <api_identifier>/read and <api_identifier>/write."
  type        = string
  default     = "notes-api"

  validation {
    condition     = can(regex("^[A-Za-z0-9._:-]{1,256}$", var.api_identifier))
    error_message = "api_identifier must be 1-256 letters, digits, dots, colons, underscores or hyphens."
  }
}

variable "cognito_domain_prefix" {
  description = "Cognito sign-in domain prefix (hosted UI). Null: derived from name and the user pool id (unique)."
  type        = string
  default     = null
}

variable "cognito_deletion_protection" {
  description = "Protect the user pool from deletion. Switch off before `terraform destroy`."
  type        = bool
  default     = true
}

variable "callback_urls" {
  description = "Where the web and spa clients may receive the authorization code."
  type        = list(string)
  default     = ["http://localhost:3000/callback"]
}

variable "logout_urls" {
  description = "Where the web and spa clients may land after signing out."
  type        = list(string)
  default     = ["http://localhost:3000/logout"]
}

variable "cors_allow_origins" {
  description = "Browser origins allowed to call the API (CORS). Empty: no CORS configuration."
  type        = list(string)
  default     = ["http://localhost:3000"]
}

variable "demo_user_email" {
  description = "When set, creates a user with this email (set its password with admin-set-user-password)."
  type        = string
  default     = null
}

variable "throttling_rate_limit" {
  description = "Requests per second allowed on each route of the API."
  type        = number
  default     = 50
}

variable "throttling_burst_limit" {
  description = "Burst of requests allowed above the rate."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Retention of the API access logs and function logs, in days."
  type        = number
  default     = 30
}

variable "lambda_architecture" {
  description = "Instruction set of the functions: arm64 or x86_64."
  type        = string
  default     = "arm64"
}

variable "lambda_packages_in_s3" {
  description = "Deploy the functions from S3 objects in a bucket of this stack (created in parallel) instead of direct uploads (one at a time). See README: first apply."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every resource by the provider."
  type        = map(string)
  default     = { project = "notes-api" }
}

variable "notes_deletion_protection" {
  description = "Protect the notes table from deletion. Switch off before `terraform destroy`."
  type        = bool
  default     = true
}
