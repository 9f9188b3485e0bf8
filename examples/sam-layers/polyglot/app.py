"""Greets in the language the event names, with the greetings layer's module."""

from greetings import greet


def handler(event, context):
    message = greet(event.get("name", "world"), event.get("language", "en"))
    return {"message": message, "version": context.function_version}
