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
