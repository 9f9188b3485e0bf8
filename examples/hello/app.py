"""A first function: greets whoever the event names."""

import os


def handler(event, context):
    name = event.get("name", "world")
    print(f"greeting {name} from {os.environ['AWS_LAMBDA_FUNCTION_NAME']}")
    return {"message": f"Hello, {name}!", "request_id": context.aws_request_id}
