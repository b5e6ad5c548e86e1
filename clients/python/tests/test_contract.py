"""The client against the API document it is made from: every operation
has its method (named as the TypeScript client names it, in snake_case),
and the committed models are what a fresh generation makes."""

import json
import os
import re
import subprocess
import tempfile

import channelhub

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DOCUMENT = os.path.join(ROOT, "openapi", "openapi.json")
TYPESCRIPT = os.path.join(ROOT, "clients", "typescript", "src", "index.ts")
# Where the names differ, and why: the TypeScript client's `subscribe` is its
# live subscription; this client answers the URL until its own arrives.
RENAMED = {"subscribe": "ws_url"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def test_every_operation_has_a_method():
    with open(DOCUMENT) as f:
        document = json.load(f)
    operations = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert set(channelhub.OPERATIONS) == operations, "the document and the client's operations differ"
    for name in channelhub.OPERATIONS.values():
        assert callable(getattr(channelhub.Channelhub, name, None)), name
        assert callable(getattr(channelhub.AsyncChannelhub, name, None)), name


def test_methods_are_named_as_the_typescript_client_names_them():
    with open(TYPESCRIPT) as f:
        source = f.read()
    block = source[source.index("export const OPERATIONS"):]
    block = block[: block.index("} as const")]
    typescript = dict(re.findall(r"'([A-Z]+ [^']+)': '(\w+)'", block))
    assert set(typescript) == set(channelhub.OPERATIONS)
    for operation, name in typescript.items():
        assert channelhub.OPERATIONS[operation] == RENAMED.get(name, snake(name)), operation


def test_the_committed_models_are_a_fresh_generation():
    with tempfile.TemporaryDirectory() as directory:
        fresh = os.path.join(directory, "models.py")
        subprocess.run([os.path.join(HERE, "..", "scripts", "generate.sh"), fresh], check=True)
        with open(fresh) as f, open(os.path.join(HERE, "..", "channelhub", "models.py")) as g:
            assert f.read() == g.read(), "run clients/python/scripts/generate.sh and commit channelhub/models.py"
