# Smallest working configuration: a bucket name, where SSH comes from, and the database secret;
# everything else takes the defaults.
#   terraform plan -var-file=examples/minimal.tfvars
s3_bucket_name      = "acme-stock-mind-media-dev"
ssh_ingress_cidrs   = ["203.0.113.0/24"]
database_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stock-mind/database-AbCdEf"
