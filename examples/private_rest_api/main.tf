# A private REST API (pattern E): a VPC with two private subnets (no internet gateway, no NAT),
# an interface endpoint for execute-api in them, the API reachable only through it, and one
# function behind GET /orders/{id}. Callers run inside the VPC.
resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs belong to the network owner's logging account in a real deployment; this example VPC carries only the endpoint.
  cidr_block = var.vpc_cidr
  # Private DNS of the endpoint needs both (spec H1).
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

# The default security group admits nothing, so only the endpoint's own group is ever used.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "private" {
  count = 2

  vpc_id                  = aws_vpc.this.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone       = var.availability_zones[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-private-${count.index}" }
}

module "api" {
  source = "../../modules/private_rest_api"

  name = var.name
  vpc_endpoint = {
    vpc_id        = aws_vpc.this.id
    subnet_ids    = aws_subnet.private[*].id
    allowed_cidrs = [var.vpc_cidr]
  }
  routes = {
    "GET /orders/{id}" = { function_arn = aws_lambda_function.orders.arn }
  }

  # Stage logging needs the account's CloudWatch role first.
  depends_on = [aws_api_gateway_account.this]
}
