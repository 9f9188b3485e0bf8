"""Built-in backing services that functions call and that trigger functions, stored in the data
dir (the embedded default): ``objects`` (the S3 API's buckets and objects) and ``queues`` (the
SQS API's queues). Each is a plain Python object the platform opens and closes; the gateway
serves their wire protocols (``gateway/s3_api.py``, ``gateway/sqs_api.py``).
"""
