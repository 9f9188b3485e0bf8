"""Layers reach the function at every isolation level: importable, and their files readable."""

from __future__ import annotations

import json

from gureum import Platform
from tests.conftest import Deploy, make_zip


async def test_layer_packages_import_and_files_read(platform: Platform, deploy: Deploy) -> None:
    first = await platform.layers.publish(
        "libs", make_zip({"python/greet.py": "WORD = 'annyeong'\n", "conf/which": "first"})
    )
    second = await platform.layers.publish("conf", make_zip({"conf/which": "second"}))
    await deploy(
        "uses",
        """
        import os, greet
        def handler(event, context):
            root = os.path.dirname(os.path.dirname(greet.__file__))
            with open(os.path.join(root, "conf", "which")) as f:
                return {"word": greet.WORD, "which": f.read()}
        """,
        layers=[first["LayerVersionArn"], second["LayerVersionArn"]],
    )
    result = await platform.invoke("uses", b"{}")
    assert json.loads(result.payload) == {"word": "annyeong", "which": "second"}
