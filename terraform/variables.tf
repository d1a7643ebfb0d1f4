# ---------------------------------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------------------------------
# Defaults for names, suffixes, redrive, timings, alarm threshold and log groups equal the local
# stack's values in stockmind/topology.py; tests/unit/test_terraform_topology.py keeps them in step.

variable "aws_region" {
  description = "AWS region for every resource (also the workers' AWS_REGION)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$", var.aws_region))
    error_message = "aws_region must look like an AWS region code, e.g. us-east-1 or eu-central-2."
  }
}

variable "project_name" {
  description = "Prefix for resource names that are not fixed by the seed, and the Project tag."
  type        = string
  default     = "stock-mind"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-32 characters of lower-case letters, digits and hyphens."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource through the provider's default_tags."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------
# S3 media bucket
# ---------------------------------------------------------------------------------------------------

variable "s3_bucket_name" {
  description = "Globally unique name of the media bucket (the workers' S3_BUCKET_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket_name))
    error_message = "s3_bucket_name must be 3-63 characters of lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }

  validation {
    condition     = !strcontains(var.s3_bucket_name, "..") && !can(regex("^[0-9]+(\\.[0-9]+){3}$", var.s3_bucket_name))
    error_message = "s3_bucket_name must not contain two adjacent dots or be formatted like an IP address."
  }

  validation {
    condition = !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(var.s3_bucket_name, p)]) && !anytrue(
      [for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] : endswith(var.s3_bucket_name, s)]
    )
    error_message = "s3_bucket_name uses a prefix or suffix that AWS reserves (xn--, sthree-, amzn-s3-demo-, -s3alias, --ol-s3, .mrap, --x-s3, --table-s3)."
  }
}

variable "media_prefix" {
  description = "Key prefix whose objects notify the queue: clients/<client_id>/products/<sku>/media/<type>/<file>."
  type        = string
  default     = "clients/"

  validation {
    condition     = length(var.media_prefix) > 0 && endswith(var.media_prefix, "/") && !startswith(var.media_prefix, "/")
    error_message = "media_prefix must be a non-empty key prefix ending with '/' and not starting with '/'."
  }
}

variable "media_suffixes" {
  description = "File suffixes that notify the queue. S3 suffix filters are case-sensitive, so each one is listed in lower and upper case."
  type        = list(string)
  default = [
    ".jpg", ".jpeg", ".png", ".webp", ".mp4", ".webm",
    ".JPG", ".JPEG", ".PNG", ".WEBP", ".MP4", ".WEBM",
  ]

  validation {
    condition     = length(var.media_suffixes) > 0 && alltrue([for s in var.media_suffixes : can(regex("^\\.[A-Za-z0-9]+$", s))])
    error_message = "media_suffixes must be a non-empty list of suffixes like \".jpg\"."
  }

  validation {
    condition     = alltrue([for s in var.media_suffixes : contains(var.media_suffixes, lower(s)) && contains(var.media_suffixes, upper(s))])
    error_message = "media_suffixes must list every suffix in both lower and upper case (S3 suffix matching is case-sensitive)."
  }
}

variable "notification_events" {
  description = "S3 events sent to the queue: creations are embedded, removals delete their rows from the index."
  type        = list(string)
  default     = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]

  validation {
    condition     = alltrue([for e in var.notification_events : can(regex("^s3:Object(Created|Removed):", e))])
    error_message = "notification_events must be s3:ObjectCreated:* / s3:ObjectRemoved:* event types."
  }
}

variable "cors_allowed_origins" {
  description = "Origins allowed to upload from a browser with presigned URLs. CORS grants no access by itself; narrow it to your web app's origin."
  type        = list(string)
  default     = ["*"]

  validation {
    condition     = length(var.cors_allowed_origins) > 0
    error_message = "cors_allowed_origins needs at least one origin."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of days, at least 1."
  }
}

variable "enable_intelligent_tiering" {
  description = "Move current objects to S3 Intelligent-Tiering after intelligent_tiering_days (cheaper for rarely viewed media)."
  type        = bool
  default     = false
}

variable "intelligent_tiering_days" {
  description = "Age in days at which objects move to Intelligent-Tiering when enable_intelligent_tiering is true."
  type        = number
  default     = 30

  validation {
    condition     = var.intelligent_tiering_days >= 0 && floor(var.intelligent_tiering_days) == var.intelligent_tiering_days
    error_message = "intelligent_tiering_days must be a whole number of days, 0 or more."
  }
}

# ---------------------------------------------------------------------------------------------------
# SQS queue and dead-letter queue
# ---------------------------------------------------------------------------------------------------

variable "queue_name" {
  description = "Name of the media processing queue (its URL is the workers' SQS_QUEUE_URL)."
  type        = string
  default     = "stock-mind-media-queue"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.queue_name))
    error_message = "queue_name must be 1-80 letters, digits, hyphens or underscores."
  }
}

variable "dlq_name" {
  description = "Name of the dead-letter queue that receives messages the workers could not process."
  type        = string
  default     = "stock-mind-media-dlq"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.dlq_name))
    error_message = "dlq_name must be 1-80 letters, digits, hyphens or underscores."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden: long enough to fetch, decode and embed a video (workers extend it while they work)."
  type        = number
  default     = 300

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200 (12 hours)."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait: fewer empty receives, lower cost."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

variable "message_retention_seconds" {
  description = "How long the main queue keeps an unprocessed message."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message; the maximum, so there is time to inspect and redrive."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000."
  }
}

# ---------------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------------

variable "worker_log_group_name" {
  description = "CloudWatch log group of the media workers."
  type        = string
  default     = "/aws/ec2/stock-mind/media-worker"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#-]{1,512}$", var.worker_log_group_name))
    error_message = "worker_log_group_name must be 1-512 characters of letters, digits and _ . / # -."
  }
}

variable "application_log_group_name" {
  description = "CloudWatch log group of the application (search service, jobs)."
  type        = string
  default     = "/aws/ec2/stock-mind/application"

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#-]{1,512}$", var.application_log_group_name))
    error_message = "application_log_group_name must be 1-512 characters of letters, digits and _ . / # -."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs (one of the values CloudWatch accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "queue_depth_alarm_threshold" {
  description = "Alarm when more than this many messages wait in the main queue."
  type        = number
  default     = 1000

  validation {
    condition     = var.queue_depth_alarm_threshold >= 1 && var.queue_depth_alarm_threshold <= 1000000
    error_message = "queue_depth_alarm_threshold must be between 1 and 1000000."
  }
}

variable "dlq_alarm_threshold" {
  description = "Alarm when more than this many messages sit in the dead-letter queue (0: any message)."
  type        = number
  default     = 0

  validation {
    condition     = var.dlq_alarm_threshold >= 0 && var.dlq_alarm_threshold <= 1000000
    error_message = "dlq_alarm_threshold must be between 0 and 1000000."
  }
}

variable "alarm_period_seconds" {
  description = "Period of the alarms' metric statistics (SQS publishes its metrics every 60 s)."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds % 60 == 0 && var.alarm_period_seconds <= 86400
    error_message = "alarm_period_seconds must be a multiple of 60 between 60 and 86400."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive periods over the threshold before the queue-depth alarm fires (the DLQ alarm fires at once)."
  type        = number
  default     = 2

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 100
    error_message = "alarm_evaluation_periods must be between 1 and 100."
  }
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alert topic (it must confirm the subscription). Empty: no subscription."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

# ---------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the Ray nodes' security group (Ray picks subnets in it); null uses the region's default VPC."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_id == null || can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be null or a VPC id like vpc-0123456789abcdef0."
  }
}

variable "database_cidr_blocks" {
  description = "Where PostgreSQL (5432) lives; empty means anywhere in the VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.database_cidr_blocks : can(cidrnetmask(c))])
    error_message = "database_cidr_blocks must be IPv4 CIDR blocks."
  }
}

variable "service_cidr_blocks" {
  description = "Where the Ray nodes may reach the search/embedding service (8000, the seed's EMBEDDING_SERVICE_URL); empty means anywhere in the VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.service_cidr_blocks : can(cidrnetmask(c))])
    error_message = "service_cidr_blocks must be IPv4 CIDR blocks."
  }
}

variable "ssh_ingress_cidrs" {
  description = "Where `ray up` and operators SSH to the Ray nodes from (your office or VPN range). No default: there is no safe one."
  type        = list(string)

  validation {
    condition     = length(var.ssh_ingress_cidrs) > 0 && alltrue([for c in var.ssh_ingress_cidrs : can(cidrnetmask(c))])
    error_message = "ssh_ingress_cidrs must be one or more IPv4 CIDR blocks, e.g. [\"203.0.113.0/24\"]."
  }

  validation {
    condition     = alltrue([for c in var.ssh_ingress_cidrs : !can(cidrnetmask(c)) || cidrnetmask(c) != "0.0.0.0"])
    error_message = "ssh_ingress_cidrs must not contain 0.0.0.0/0 (or any /0): SSH stays closed to the internet."
  }
}

variable "service_ingress_cidrs" {
  description = "Who may call the search service (Ray Serve's proxy, port 8000, on every node); empty means anywhere in the VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.service_ingress_cidrs : can(cidrnetmask(c)) && cidrnetmask(c) != "0.0.0.0"])
    error_message = "service_ingress_cidrs must be IPv4 CIDR blocks other than 0.0.0.0/0 (put a load balancer in front instead)."
  }
}

variable "service_ingress_security_group_id" {
  description = "Optional security group (a load balancer's) that may also call the search service on port 8000."
  type        = string
  default     = null

  validation {
    condition     = var.service_ingress_security_group_id == null || can(regex("^sg-[0-9a-f]{8,17}$", var.service_ingress_security_group_id))
    error_message = "service_ingress_security_group_id must be null or a security group id like sg-0123456789abcdef0."
  }
}

# ---------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------

variable "database_secret_arn" {
  description = "Secrets Manager secret holding the database password (JSON with a `password` key, as RDS writes it, or a whole postgresql:// URL). Created outside Terraform so its value never enters the state."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN, e.g. arn:aws:secretsmanager:us-east-1:123456789012:secret:stock-mind/database-AbCdEf."
  }
}

# ---------------------------------------------------------------------------------------------------
# Ray cluster nodes (cluster.yaml)
# ---------------------------------------------------------------------------------------------------

variable "ray_node_ami_ssm_parameter" {
  description = "Public SSM parameter holding the current AWS Deep Learning Base GPU AMI (NVIDIA driver, Ubuntu) for the Ray nodes."
  type        = string
  default     = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"

  validation {
    condition     = startswith(var.ray_node_ami_ssm_parameter, "/")
    error_message = "ray_node_ami_ssm_parameter must be an SSM parameter path starting with '/'."
  }
}

variable "ray_cluster_name" {
  description = "cluster_name in cluster.yaml: Ray tags its nodes ray-cluster-name=<this>, and the head may only retag or terminate instances carrying that tag."
  type        = string
  default     = "stockmind"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.ray_cluster_name))
    error_message = "ray_cluster_name must be 1-64 letters, digits, '_' or '-' (the cluster_name of cluster.yaml)."
  }
}

variable "ray_node_volume_size_gb" {
  description = "Root volume of each Ray node: the Python environment with CUDA wheels is ~7 GB, plus model files and spill space."
  type        = number
  default     = 200

  validation {
    condition     = var.ray_node_volume_size_gb >= 50 && var.ray_node_volume_size_gb <= 16384
    error_message = "ray_node_volume_size_gb must be between 50 and 16384."
  }
}

# ---------------------------------------------------------------------------------------------------
# Event delivery (eventbridge.tf)
# ---------------------------------------------------------------------------------------------------

variable "event_delivery" {
  description = "How the bucket's events reach the queue: \"s3\" (S3 notifies the queue directly) or \"eventbridge\" (S3 sends every event to EventBridge and a rule routes media events to the queue; choose it when other consumers need the bucket's events too, since a bucket has one notification configuration)."
  type        = string
  default     = "s3"

  validation {
    condition     = contains(["s3", "eventbridge"], var.event_delivery)
    error_message = "event_delivery must be \"s3\" or \"eventbridge\"."
  }
}
