from __future__ import annotations

from collections.abc import Callable

import pytest

from gureum import validation as v
from gureum.errors import InvalidParameterValueException


def rejected(call: Callable[..., object], *args: object) -> str:
    with pytest.raises(InvalidParameterValueException) as info:
        call(*args)
    return info.value.message


@pytest.mark.parametrize("name", ["f", "my-function_2", "A" * 64])
def test_function_name_accepted(name: str) -> None:
    assert v.validate_function_name(name) == name


def test_function_name_too_long() -> None:
    name = "a" * 65
    assert rejected(v.validate_function_name, name) == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )


def test_function_name_empty_breaks_two_rules() -> None:
    message = rejected(v.validate_function_name, "")
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have length greater than or equal to 1; Value ''" in message
    assert "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+" in message


@pytest.mark.parametrize("name", ["my function", "fn.py", "fn:1", "ünïcode", "a/b"])
def test_function_name_pattern(name: str) -> None:
    assert rejected(v.validate_function_name, name) == (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+"
    )


@pytest.mark.parametrize(
    "handler",
    ["app.handler", "pkg.sub.mod.func", "pkg/sub/mod.func", "my-mod.my_func", "m." + "f" * 126],
)
def test_handler_accepted(handler: str) -> None:
    assert v.validate_handler(handler) == handler


def test_handler_too_long() -> None:
    handler = "m." + "f" * 127
    assert rejected(v.validate_handler, handler) == (
        f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )


@pytest.mark.parametrize("handler", ["", "app .handler", "app.handler\n"])
def test_handler_whitespace_uses_lambda_pattern(handler: str) -> None:
    assert rejected(v.validate_handler, handler) == (
        f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy "
        r"constraint: Member must satisfy regular expression pattern: [^\s]+"
    )


@pytest.mark.parametrize("handler", ["handler", "app.", ".handler", "a..b", "pkg/.f", "pkg/mod"])
def test_handler_needs_module_and_function(handler: str) -> None:
    message = rejected(v.validate_handler, handler)
    assert f"Value '{handler}' at 'handler'" in message
    assert v.HANDLER_SHAPE_PATTERN in message


@pytest.mark.parametrize(
    ("check", "member", "low", "high"),
    [
        (v.validate_memory, "memorySize", 128, 10240),
        (v.validate_timeout, "timeout", 1, 900),
        (v.validate_ephemeral_storage, "ephemeralStorage.size", 512, 10240),
    ],
)
def test_integer_ranges(check: Callable[[int], int], member: str, low: int, high: int) -> None:
    assert check(low) == low
    assert check(high) == high
    assert rejected(check, low - 1) == (
        f"1 validation error detected: Value '{low - 1}' at '{member}' failed to satisfy "
        f"constraint: Member must have value greater than or equal to {low}"
    )
    assert rejected(check, high + 1) == (
        f"1 validation error detected: Value '{high + 1}' at '{member}' failed to satisfy "
        f"constraint: Member must have value less than or equal to {high}"
    )


def test_memory_message_as_lambda_words_it() -> None:
    assert rejected(v.validate_memory, 100000) == (
        "1 validation error detected: Value '100000' at 'memorySize' failed to satisfy "
        "constraint: Member must have value less than or equal to 10240"
    )


def test_description() -> None:
    assert v.validate_description("") == ""
    assert v.validate_description("é" * 256) == "é" * 256
    assert rejected(v.validate_description, "x" * 257).endswith(
        "at 'description' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    )


def test_env_accepted_and_copied() -> None:
    env = {"AB": "1", "Key_2": "värde ✓", "TZ": "Asia/Seoul", "PYTHONPATH": "/opt"}
    out = v.validate_env(env)
    assert out == env
    assert out is not env


@pytest.mark.parametrize("key", ["A", "1AB", "_AB", "A-B", "A B", "", "ÄB"])
def test_env_key_pattern_without_echoing_values(key: str) -> None:
    message = rejected(v.validate_env, {"OK": "secret-value", key: "secret-value"})
    assert message == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy "
        "constraint: Map keys must satisfy constraint: "
        "[Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    )


@pytest.mark.parametrize("key", sorted(v.RESERVED_ENV_KEYS))
def test_env_reserved_key(key: str) -> None:
    message = rejected(v.validate_env, {"MINE": "x", key: "y"})
    if key.startswith("_"):
        # _HANDLER and _X_AMZN_TRACE_ID never reach the reserved check: the key pattern,
        # checked first as in Lambda's request validation, already refuses them.
        assert "Map keys must satisfy constraint" in message
    else:
        assert message.endswith(f"Reserved keys used in this request: {key}")


def test_env_reserved_keys_listed_in_request_order() -> None:
    message = rejected(v.validate_env, {"AWS_REGION": "x", "AWS_ACCESS_KEY": "y"})
    assert message == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported "
        "for modification. Reserved keys used in this request: AWS_REGION, AWS_ACCESS_KEY"
    )


def test_reserved_keys_cover_the_documented_ones() -> None:
    documented = {"_HANDLER", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "LAMBDA_TASK_ROOT"}
    assert documented <= v.RESERVED_ENV_KEYS
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} <= (
        v.RESERVED_ENV_KEYS
    )


def env_of_size(size: int, char: str = "x") -> dict[str, str]:
    # {"KEY":"..."} is 10 bytes around the value.
    value_bytes = size - len('{"KEY":""}')
    return {"KEY": char * (value_bytes // len(char.encode()))}


def test_env_size_boundary() -> None:
    assert v.validate_env(env_of_size(4096))
    big = env_of_size(4097)
    assert rejected(v.validate_env, big) == (
        "Lambda was unable to configure your environment variables because the environment "
        "variables you have provided exceeded the 4KB limit. String measured: "
        '{"KEY":"' + big["KEY"] + '"}'
    )


def test_env_size_counts_utf8_bytes_and_escapes() -> None:
    # 2 bytes per "é": 4086 bytes of value fit exactly, one more character does not.
    assert v.validate_env(env_of_size(4096, "é"))
    with pytest.raises(InvalidParameterValueException):
        v.validate_env({"KEY": "é" * 2044})
    # A quote is escaped to two characters in the measured JSON.
    assert v.validate_env({"KEY": '"' * 2043})
    with pytest.raises(InvalidParameterValueException):
        v.validate_env({"KEY": '"' * 2044})


def test_runtime() -> None:
    available = ["python3.12", "python3.11"]
    assert v.validate_runtime("python3.11", available) == "python3.11"
    assert rejected(v.validate_runtime, "python2.7", available) == (
        "1 validation error detected: Value 'python2.7' at 'runtime' failed to satisfy "
        "constraint: Member must satisfy enum value set: [python3.11, python3.12]"
    )


def test_reserved_concurrency() -> None:
    assert v.validate_reserved_concurrency(None, 10) is None
    assert v.validate_reserved_concurrency(0, 10) == 0
    assert v.validate_reserved_concurrency(10, 10) == 10
    assert rejected(v.validate_reserved_concurrency, -1, 10).endswith(
        "at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0"
    )
    assert rejected(v.validate_reserved_concurrency, 11, 10) == (
        "1 validation error detected: Value '11' at 'reservedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value less than or equal to 10"
    )
