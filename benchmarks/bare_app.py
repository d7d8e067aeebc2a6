"""The baseline: a bare Flask endpoint that parses JSON and answers, under the same gunicorn."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():  # type: ignore[no-untyped-def]
    body = request.get_json()
    return jsonify({"message": {"text": body["text"]}, "reply": None}), 201
