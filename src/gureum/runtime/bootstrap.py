"""The Python runtime inside an instance: load the handler once, then serve invocations in turn."""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import resource
import socket
import sys
import termios
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from . import protocol, relay, snapshot
from .context import FunctionInfo, LambdaContext

# Where the platform's own boto3 and its dependencies are, as the sandbox sees them (":"-joined).
PACKAGES_ENV = "_GUREUM_PACKAGES"

Handler = Callable[[Any, LambdaContext], Any]

# The event was not JSON: the Invoke API answers this one with a 400, as Lambda does.
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
UNMARSHAL_PREFIX = "Unable to unmarshal input: "

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_IMPORTLIB = os.path.dirname(importlib.__file__ or "")


class RuntimeFault(Exception):
    """An error of the runtime's own making, with Lambda's stable ``Runtime.*`` type."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def user_stack(tb: Any) -> list[str]:
    """The traceback as Lambda shows it: only the user's frames, none of the runtime's."""
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_RUNTIME_DIR)]
    frames = [f for f in frames if not f.filename.startswith(("<frozen importlib", _IMPORTLIB))]
    return traceback.format_list(frames)


def load_handler(spec: str) -> Handler:
    try:
        module_path, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        raise RuntimeFault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}") from None
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise RuntimeFault("Runtime.ImportModuleError", message) from None
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        # Point at the offending line, not at the import machinery that compiled it.
        line = f'  File "{exc.filename}" Line {exc.lineno}\n    {(exc.text or "").strip()}\n'
        raise RuntimeFault("Runtime.UserCodeSyntaxError", message, [line]) from None
    except Exception as exc:
        # Any other failure in the module's init code is reported under the user's exception name.
        raise RuntimeFault(type(exc).__name__, str(exc), user_stack(exc.__traceback__)) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise RuntimeFault("Runtime.HandlerNotFound", message)
    if not callable(handler):
        raise RuntimeFault("Runtime.HandlerNotFound", f"Handler '{function_name}' is not callable")
    return handler  # type: ignore[no-any-return]


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def install_logging() -> _RequestIdFilter:
    """Lambda's default log format, so log lines look the same as on AWS."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(request_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    return request_filter


def log_error(error_type: str, message: str, stack: list[str]) -> None:
    """Write an unhandled error to the function's log, as Lambda's Python runtime does."""
    lines = [f"[ERROR] {error_type}: {message}", "Traceback (most recent call last):"]
    sys.stderr.write("\n".join(lines) + "\n" + "".join(stack))
    sys.stderr.flush()


def _output_waiting() -> bool:
    """Whether anything this instance wrote is still in its output pipe (stdout and stderr
    share it)."""
    count = bytearray(4)
    try:
        fcntl.ioctl(1, termios.FIONREAD, count)
    except OSError:
        return True
    return count != b"\0\0\0\0"


def _max_rss_kb() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children)


Frame = protocol.Frame


def invoke_once(
    handler: Handler, function: FunctionInfo, request_id: str, meta: dict[str, Any], body: bytes
) -> Frame:
    """Run the handler on one event; return a RESULT or an ERROR frame's parts."""
    try:
        context = LambdaContext(request_id, meta["deadline_ms"], meta["arn"], meta, function)
    except (ValueError, TypeError, AttributeError) as exc:
        fault = protocol.error_body("Runtime.InvalidClientContext", str(exc), request_id)
        return protocol.ERROR, {"type": "Runtime.InvalidClientContext"}, fault
    try:
        event = json.loads(body) if body else {}
    except ValueError as exc:
        fault = protocol.error_body(UNMARSHAL_ERROR, f"{UNMARSHAL_PREFIX}{exc}", request_id)
        return protocol.ERROR, {"type": UNMARSHAL_ERROR}, fault
    try:
        result = handler(event, context)
    except Exception as exc:
        error_type = type(exc).__name__
        stack = user_stack(exc.__traceback__)
        log_error(error_type, str(exc), stack)
        body_out = protocol.error_body(error_type, str(exc), request_id, stack)
        return protocol.ERROR, {"type": error_type}, body_out
    try:
        payload = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        fault = protocol.error_body(
            "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id
        )
        return protocol.ERROR, {"type": "Runtime.MarshalError"}, fault
    return protocol.RESULT, {}, payload


def prepare() -> _RequestIdFilter:
    """The runtime's function-independent set-up: a shell does it before it has a function.

    It also touches what the first invocation would (JSON both ways, a log record, frame
    encoding), so that the copy-on-write faults of a fresh fork are taken now, not on the
    cold start's clock."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    request_filter = install_logging()
    sample = {"id": "warm-up", "deadline_ms": 0, "list": [1.5, True, None], "text": "é"}
    json.loads(json.dumps(sample))
    protocol.encode(protocol.RESULT, sample, json.dumps(sample).encode())
    logging.getLogger("gureum.warm-up").debug("warm-up")
    return request_filter


def serve(
    channel: socket.socket,
    handler_spec: str,
    task_root: str,
    opt_root: str,
    frames: protocol.FrameReader | None = None,
    request_filter: _RequestIdFilter | None = None,
) -> NoReturn:
    """Init the function, report READY (or the init error), then answer INVOKE frames until EOF.
    ``request_filter``: what prepare() returned, if it ran already (in a shell)."""
    started = time.perf_counter()
    request_filter = request_filter or prepare()
    # Read here, not in prepare(): a shell prepares before it has its function's environment.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        logging.getLogger().setLevel(level.upper())
    # Lambda's order: the function's own code, then its layers' Python packages.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    sys.path[:0] = [
        task_root,
        f"{opt_root}/python/lib/{version}/site-packages",
        f"{opt_root}/python",
    ]
    # Last, as Lambda's /var/runtime: the platform's boto3, which a function's own copy overrides.
    sys.path.extend(p for p in os.environ.get(PACKAGES_ENV, "").split(":") if p)
    relay.start_from_env()  # before init: module-level code may create boto3 clients
    os.chdir(task_root)
    try:
        handler = load_handler(handler_spec)
    except RuntimeFault as fault:
        log_error(fault.error_type, fault.message, fault.stack)
        sys.stdout.flush()
        body = protocol.error_body(fault.error_type, fault.message, "", fault.stack)
        channel.sendall(protocol.encode(protocol.INIT_ERROR, {"type": fault.error_type}, body))
        os._exit(1)
    init_ms = (time.perf_counter() - started) * 1000
    channel.sendall(protocol.encode(protocol.READY, {"init_ms": init_ms}))
    frames = frames or protocol.FrameReader(channel)
    first = frames.read()
    if first is not None and first[0] == protocol.SNAPSHOT:
        # Returns in each instance forked from the snapshot, with that instance's own channel.
        channel, restore_started = snapshot.serve_as_snapshot(channel)
        restore_ms = (time.perf_counter() - restore_started) * 1000
        channel.sendall(protocol.encode(protocol.READY, {"init_ms": 0, "restore_ms": restore_ms}))
        frames, first = protocol.FrameReader(channel), None
    serve_invocations(channel, frames, first, handler, request_filter)


def serve_invocations(
    channel: socket.socket,
    frames: protocol.FrameReader,
    first: protocol.Frame | None,
    handler: Handler,
    request_filter: _RequestIdFilter,
) -> NoReturn:
    """Answer INVOKE frames (``first`` is one already read) until the channel closes."""
    function = FunctionInfo(os.environ)
    trace_id = None
    frame = first or frames.read()
    while frame is not None:
        _, meta, body = frame
        request_id = meta["id"]
        request_filter.request_id = request_id
        if meta.get("trace_id", "") != trace_id:  # setting the environment costs a putenv
            trace_id = os.environ["_X_AMZN_TRACE_ID"] = meta.get("trace_id", "")
        kind, reply_meta, reply = invoke_once(handler, function, request_id, meta, body)
        # Output written before the reply must reach the engine before the reply does.
        sys.stdout.flush()
        sys.stderr.flush()
        reply_meta["maxrss_kb"] = _max_rss_kb()
        reply_meta["id"] = request_id
        # Whether the engine must look in the output pipe: the ioctl is paid here, in the
        # instance, rather than on the engine's busy loop.
        reply_meta["out"] = _output_waiting()
        channel.sendall(protocol.encode(kind, reply_meta, reply))
        frame = frames.read()
    os._exit(0)
