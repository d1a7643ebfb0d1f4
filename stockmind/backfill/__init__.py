"""Bulk backfill: embed years of existing media with one Ray Data pipeline, resumably and idempotently.

`pipeline.py` holds the stages in order; `runner.run_backfill` runs one; `jobs/backfill.py` is the
`ray job submit` entry point and `stockmind backfill` the command-line one. Nothing is imported here:
Ray workers import single stage modules and should not pay for torch where they don't need it.
"""
