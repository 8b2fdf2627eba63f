"""What both handlers share: error mapping, request/response models, query parsing and pagination.

Kept light: the history function imports it on every cold start, so nothing here may import the
orchestrator engine, boto3 or the batch utilities (`queue_events` and `schedule` are execute-only).
"""
