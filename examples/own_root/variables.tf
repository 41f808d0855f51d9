variable "region" {
  description = "Region of everything in this root."
  type        = string
  default     = "eu-west-1"
}

variable "service_name" {
  description = "Prefix of every name (API, functions, pool, domain)."
  type        = string
  default     = "shop"
}

variable "stage_name" {
  description = "The API's stage: its URL is <api endpoint>/<stage_name>."
  type        = string
  default     = "v1"
}

variable "app_callback_url" {
  description = "Where the sign-in form sends the browser app's authorization code."
  type        = string
  default     = "http://localhost:8080/callback"
}

variable "python" {
  description = "Python interpreter that zips the handlers at apply time (its standard library's zipfile)."
  type        = string
  default     = "python3"
}
