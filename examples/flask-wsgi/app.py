"""A Flask app on gureum, unchanged from how it runs on AWS Lambda: apig-wsgi turns API Gateway's
events (payload format 2.0 or 1.0, and function URLs') into WSGI requests and back."""

from apig_wsgi import make_lambda_handler
from flask import Flask, Response, abort, jsonify, request

app = Flask(__name__)

NOTES = {"welcome": "Hello from Flask on gureum"}


@app.get("/notes/<name>")
def get_note(name: str) -> Response:
    if name not in NOTES:
        abort(404)
    return jsonify(name=name, text=NOTES[name], shout=request.args.get("shout") == "1")


@app.post("/notes/<name>")
def put_note(name: str) -> Response:
    text = (request.get_json(silent=True) or {}).get("text", "")
    response = jsonify(name=name, text=text, agent=request.headers.get("User-Agent", ""))
    response.status_code = 201
    response.headers["X-Note"] = name
    return response


handler = make_lambda_handler(app)
