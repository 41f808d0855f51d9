# The notes service's storage, and the IAM policy an operator needs for GET /notes/stats.

resource "aws_dynamodb_table" "notes" {
  name         = "${var.name}-notes"
  billing_mode = "PAY_PER_REQUEST"
  # functions/shared/notes_store.py: notes under ownerSub = the caller's sub, idempotency records
  # under ownerSub = "idempotency#" + sub; noteId is a note's UUIDv7 or an Idempotency-Key.
  hash_key                    = "ownerSub"
  range_key                   = "noteId"
  deletion_protection_enabled = var.notes_deletion_protection

  attribute {
    name = "ownerSub"
    type = "S"
  }
  attribute {
    name = "noteId"
    type = "S"
  }

  # Idempotency records expire after 24 h; notes never carry the attribute.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  #checkov:skip=CKV_AWS_119:encrypted at rest with the AWS managed key; pass a customer managed key only where policy demands it
  server_side_encryption {
    enabled = true
  }

  tags = var.tags
}

# Attach to the role or user of a service that reads note counts: SigV4-signed calls to
# GET /notes/stats (AWS_IAM route) and nothing else of the API.
resource "aws_iam_policy" "notes_operator" {
  name        = "${var.name}-notes-operator"
  description = "Invoke GET /notes/stats of ${var.name} (AWS_IAM route)"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeNoteStats"
      Effect   = "Allow"
      Action   = "execute-api:Invoke"
      Resource = "${module.http_api.execution_arn}/${module.http_api.stage_name}/GET/notes/stats"
    }]
  })
  tags = var.tags
}
