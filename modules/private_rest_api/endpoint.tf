# The interface VPC endpoint the module creates when vpc_endpoint is set, with a security group
# of its own that admits HTTPS from the named CIDRs only.
locals {
  vpc_endpoint_ids = concat(var.vpc_endpoint_ids, aws_vpc_endpoint.execute_api[*].id)
}

data "aws_region" "current" {}

resource "aws_security_group" "endpoint" {
  count = var.vpc_endpoint == null ? 0 : 1

  name_prefix = substr("${var.name}-execute-api-", 0, 100)
  description = "HTTPS to the execute-api endpoint of ${var.name} from the private network"
  vpc_id      = var.vpc_endpoint.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = var.vpc_endpoint == null ? toset([]) : toset(var.vpc_endpoint.allowed_cidrs)

  security_group_id = aws_security_group.endpoint[0].id
  description       = "HTTPS from ${each.key}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = can(cidrnetmask(each.key)) ? each.key : null
  cidr_ipv6         = can(cidrnetmask(each.key)) ? null : each.key
  tags              = var.tags
}

resource "aws_vpc_endpoint" "execute_api" {
  count = var.vpc_endpoint == null ? 0 : 1

  vpc_id              = var.vpc_endpoint.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.execute-api"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.vpc_endpoint.subnet_ids
  security_group_ids  = concat(aws_security_group.endpoint[*].id, var.vpc_endpoint.security_group_ids)
  private_dns_enabled = var.vpc_endpoint.private_dns
  tags                = merge(var.tags, { Name = "${var.name}-execute-api" })
}
