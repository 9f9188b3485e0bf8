"""Tells the time: deployed by examples/sam/template.yaml, with STAGE from its Globals."""

import datetime
import os


def handler(event, context):
    now = datetime.datetime.now(datetime.UTC)
    return {"stage": os.environ["STAGE"], "utc": now.isoformat(timespec="seconds")}
