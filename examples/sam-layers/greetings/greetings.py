"""Shared by every function that takes the greetings layer."""

GREETINGS = {"en": "Hello", "ko": "안녕하세요", "fr": "Bonjour"}


def greet(name: str, language: str = "en") -> str:
    return f"{GREETINGS.get(language, GREETINGS['en'])}, {name}!"
