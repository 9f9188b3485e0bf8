"""Make thumbnails of every photo uploaded to the `uploads` bucket.

Triggered by S3's ObjectCreated events; writes a PNG in three sizes to the `thumbnails` bucket
and announces each on the `thumbnails-ready` queue. It runs unchanged on AWS Lambda: boto3 finds
gureum through AWS_ENDPOINT_URL and the function's own credentials, both set by the platform.
"""

import io
import json
import os
import urllib.parse

import boto3
from PIL import Image

# Longest edge of each thumbnail, in pixels.
SIZES = {"small": 64, "medium": 256, "large": 1024}

s3 = boto3.client("s3")
sqs = boto3.client("sqs")
queue_url = sqs.get_queue_url(QueueName=os.environ["QUEUE_NAME"])["QueueUrl"]


def handler(event, context):
    made = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        photo = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with Image.open(io.BytesIO(photo)) as image:
            image.load()
            for label, edge in SIZES.items():
                made.append(thumbnail(image, key, label, edge))
    return {"thumbnails": made}


def thumbnail(image, key, label, edge):
    copy = image.copy()
    copy.thumbnail((edge, edge))  # keeps the aspect ratio; never enlarges
    out = io.BytesIO()
    copy.save(out, format="PNG")
    target = f"{label}/{key.rsplit('.', 1)[0]}.png"
    s3.put_object(
        Bucket=os.environ["THUMBNAILS_BUCKET"],
        Key=target,
        Body=out.getvalue(),
        ContentType="image/png",
    )
    announcement = {"source": key, "thumbnail": target, "width": copy.width, "height": copy.height}
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(announcement))
    return announcement
