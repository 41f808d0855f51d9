# Provider settings for plan tests: fake keys, and no call to AWS at plan time. The harness
# links this file into fixture roots, and into roots that configure the provider themselves as
# an *_override.tf file, which merges these arguments over theirs.
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "offline-plan"
  secret_key                  = "offline-plan"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}
