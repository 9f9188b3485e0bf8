"""The Lambda API's operations, each a plain function of the parsed parameters to a result.

Shapes are botocore's (``lambda/2015-03-31``): the protocol layer has already typed the input,
and serialises whatever dict comes back. Importing this package registers every operation.
"""

from . import (
    event_invoke,
    event_source_mappings,
    function_urls,
    functions,
    invoke,
    layers,
    provisioned,
    versions,
)
from .core import OPERATIONS, LambdaContext, resolve_name

__all__ = [
    "OPERATIONS",
    "LambdaContext",
    "event_invoke",
    "event_source_mappings",
    "function_urls",
    "functions",
    "invoke",
    "layers",
    "provisioned",
    "resolve_name",
    "versions",
]
