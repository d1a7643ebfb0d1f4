# Smallest working configuration: a bucket name; everything else takes the defaults.
#   terraform plan -var-file=examples/minimal.tfvars
s3_bucket_name = "acme-stock-mind-media-dev"
