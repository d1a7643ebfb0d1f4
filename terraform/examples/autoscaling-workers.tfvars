# Plain EC2 GPU workers in an Auto Scaling group that follows the queue backlog, instead of Ray's
# autoscaler. The AMI must carry the worker and its stockmind-worker systemd unit.
#   terraform plan -var-file=examples/autoscaling-workers.tfvars
aws_region     = "eu-west-1"
s3_bucket_name = "acme-stock-mind-media-eu"

vpc_id               = "vpc-0123456789abcdef0"
database_cidr_blocks = ["10.0.20.0/24"]
service_cidr_blocks  = ["10.0.30.0/24"]

enable_autoscaling    = true
worker_ami_id         = "ami-0123456789abcdef0"
worker_instance_type  = "g6.xlarge"
worker_subnet_ids     = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
worker_min_size       = 0
worker_max_size       = 8
worker_target_backlog = 200
embedding_service_url = "http://search.internal:8000"

alarm_email = "oncall@example.com"
