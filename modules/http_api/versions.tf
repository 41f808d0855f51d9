terraform {
  # The project's minimum, as in the other modules; tests/*.tftest.hcl need mock providers (1.7+).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}
