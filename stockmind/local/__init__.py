"""The embedded local stack: real PostgreSQL + pgvector, a moto S3/SQS server and Ray, on 127.0.0.1."""
