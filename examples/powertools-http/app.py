"""An AWS Lambda Powertools HTTP API resolver on gureum, unchanged from how it runs on AWS."""

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayHttpResolver()

TODOS = {"1": {"id": "1", "title": "deploy to gureum", "done": True}}


@app.get("/todos/<todo_id>")
def get_todo(todo_id: str) -> dict[str, object]:
    todo = TODOS.get(todo_id)
    if todo is None:
        raise NotFoundError(f"no todo {todo_id}")
    verbose = app.current_event.get_query_string_value("verbose", "0") == "1"
    return {**todo, "verbose": verbose}


@app.post("/todos")
def add_todo() -> Response[str]:
    body = app.current_event.json_body or {}
    tenant = app.current_event.headers.get("x-tenant", "default")
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"id": "2", "title": body.get("title", ""), "tenant": tenant}),
        headers={"x-created": "2"},
    )


def handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    return app.resolve(event, context)
