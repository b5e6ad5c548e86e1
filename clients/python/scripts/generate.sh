#!/usr/bin/env bash
# Regenerates channelhub/models.py (pydantic v2) from the committed OpenAPI
# document. The output is committed; `tests/test_contract.py` fails when it
# differs from a fresh generation.
#   pip install datamodel-code-generator==0.97.0 && clients/python/scripts/generate.sh [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/channelhub/models.py}
datamodel-codegen --input "$here/../../openapi/openapi.json" --input-file-type openapi \
  --output-model-type pydantic_v2.BaseModel --target-python-version 3.11 \
  --use-annotated --disable-timestamp --custom-file-header \
  '# Generated from openapi/openapi.json by scripts/generate.sh; do not edit.' \
  --output "$out" 2>/dev/null
