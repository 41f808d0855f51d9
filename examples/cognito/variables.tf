variable "region" {
  description = "AWS region of the user pool."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the user pool (1-40 lower-case letters, digits or hyphens)."
  type        = string
  default     = "notes-example"
}

variable "domain_prefix" {
  description = "Sign-in domain prefix; null derives a unique one from the pool id."
  type        = string
  default     = null
}

variable "app_origins" {
  description = "Origins of the app the web and spa clients send users back to (https://, or http://localhost)."
  type        = list(string)
  default     = ["http://localhost:3000"]
}

variable "demo_user_email" {
  description = "Email of a user to create for trying sign-in (no password until you set one); null for none."
  type        = string
  default     = null
}

variable "pre_token_generation_function_arn" {
  description = "ARN of a Lambda function to run as the pre token generation trigger (event V2_0); null for none."
  type        = string
  default     = null
}

variable "oidc_provider" {
  description = "An OIDC identity provider the spa client may sign users in with (name, client id, https issuer); null for none."
  type = object({
    name      = string
    client_id = string
    issuer    = string
  })
  default = {
    name      = "CorpOIDC"
    client_id = "example-oidc-client-id"
    issuer    = "https://login.example.com"
  }
}

variable "oidc_client_secret" {
  description = "Client secret Cognito uses with the OIDC provider. Replace the example value (or pass it with TF_VAR_oidc_client_secret)."
  type        = string
  default     = "example-oidc-client-secret"
  sensitive   = true
}
