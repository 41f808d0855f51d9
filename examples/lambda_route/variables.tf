variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the HTTP API and prefix of the function name."
  type        = string
  default     = "example-lambda-route"
}
