# ---------------------------------------------------------------------------------------------------
# S3 media bucket: clients/<client_id>/products/<sku>/media/<image|video>/<file>
# ---------------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144: Cross-region replication doubles storage cost; versioning covers recovery and the index can be rebuilt by a backfill.
  #checkov:skip=CKV_AWS_145: SSE-S3 keeps the worker policy exactly as specified (no kms:Decrypt/GenerateDataKey) and presigned URLs working without key grants.
  #checkov:skip=CKV_AWS_18: Server access logs need a second bucket owned by the account's logging setup; enable them there (CloudTrail data events also cover object access).
  bucket = var.s3_bucket_name
}

# Owner-enforced: ACLs are disabled, access is decided by IAM and the bucket policy alone.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Browsers upload straight to S3 with presigned URLs; ETag is exposed for multipart uploads.
resource "aws_s3_bucket_cors_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  cors_rule {
    allowed_headers = ["*"]
    allowed_methods = ["GET", "HEAD", "PUT", "POST"]
    allowed_origins = var.cors_allowed_origins
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Versioning must be on before noncurrent-version rules mean anything.
  depends_on = [aws_s3_bucket_versioning.this]

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  # Interrupted browser uploads otherwise leave invisible, billed parts behind.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "intelligent-tiering"
    status = var.enable_intelligent_tiering ? "Enabled" : "Disabled"

    filter {
      prefix = var.media_prefix
    }

    transition {
      days          = var.intelligent_tiering_days
      storage_class = "INTELLIGENT_TIERING"
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # S3 rejects a bucket policy while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------------------------------
# Event notifications: every media suffix under the prefix, created and removed, to the queue
# ---------------------------------------------------------------------------------------------------

resource "aws_s3_bucket_notification" "this" {
  bucket      = aws_s3_bucket.this.id
  eventbridge = local.eventbridge

  # One configuration per suffix: S3 filters take a single prefix and a single suffix each. With
  # EventBridge delivery the rule in eventbridge.tf filters instead, and S3 must not send twice.
  dynamic "queue" {
    for_each = local.eventbridge ? [] : var.media_suffixes
    content {
      id            = "media${queue.value}"
      queue_arn     = aws_sqs_queue.this.arn
      events        = var.notification_events
      filter_prefix = var.media_prefix
      filter_suffix = queue.value
    }
  }

  # S3 sends a test message while saving the configuration; the queue policy must already allow it.
  depends_on = [aws_sqs_queue_policy.this]
}
