"""Validates AWS Batch request files with botocore's own parameter validation (the check the AWS SDK for
Python makes before it sends a request), against the Batch service model botocore ships.

Usage: validate_batch.py OPERATION FILE [OPERATION FILE ...]; prints one line per problem, exits 1 if any.
"""

import json
import sys

from botocore_inputs import validate

args = sys.argv[1:]
inputs = []
for operation, path in zip(args[::2], args[1::2]):
    with open(path, encoding="utf-8") as f:
        inputs.append((path, "batch", operation, json.load(f)))
sys.exit(1 if validate(inputs) else 0)
