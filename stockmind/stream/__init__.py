"""Streaming ingestion: SQS → S3 → decode → ClipEmbedder actor pool → pgvector, delete after commit.

One file per step: `sqs_source` (queue calls), `receiver` (long polling with backpressure), `fetch`
(S3 GET), `batching` (rows across messages), `embedders` (the actor pool), `held_models` (which models each
tenant's uploads are embedded with), `model_pools` (a pool per held model), `failures` (the failure
policy), `work` (in-flight bookkeeping), `metrics`, `shutdown`, `ingestor` (the loop), `pipeline`
(the Ray actors of the job) and `job` (its entry point).

Nothing is imported here: Ray reads its RAY_* environment variables once, when it is first
imported, so importing this package must not import Ray before a caller has set them.
"""
