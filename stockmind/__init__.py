"""Stock Mind visual search: product media in S3 made searchable by text and image, per tenant."""
