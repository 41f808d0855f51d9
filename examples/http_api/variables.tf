variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the HTTP API."
  type        = string
  default     = "example-http-api"
}

variable "allowed_origins" {
  description = "Browser origins allowed to call the API (CORS)."
  type        = list(string)
  default     = ["http://localhost:3000"]
}

variable "jwt_issuer" {
  description = "Issuer of the tokens the API accepts: for Cognito, https://cognito-idp.<region>.amazonaws.com/<user pool id>. Replace the EXAMPLE pool."
  type        = string
  default     = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
}

variable "jwt_audience" {
  description = "Client ids whose tokens the API accepts. Replace the example id with your app client's."
  type        = list(string)
  default     = ["example-app-client-id"]
}

variable "status_backend_url" {
  description = "HTTP endpoint that GET /status proxies to."
  type        = string
  default     = "https://status.example.com/health"
}

variable "custom_domain" {
  description = "Custom domain (name and ACM certificate ARN) to serve the API on; null for none. With one, the execute-api endpoint is turned off."
  type = object({
    domain_name     = string
    certificate_arn = string
  })
  default = null
}
