variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name of the REST API and prefix of every other name."
  type        = string
  default     = "example-private-rest"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; the endpoint admits HTTPS from all of it."
  type        = string
  default     = "10.20.0.0/16"
}

variable "availability_zones" {
  description = "Two Availability Zones of the region, one private subnet in each."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "availability_zones must name exactly two zones."
  }
}

variable "python_executable" {
  description = "Python 3 interpreter that builds the function's package at apply time."
  type        = string
  default     = "python3"
}
