"""Validates AWS Batch request files with botocore's own parameter validation (the check the AWS SDK for
Python makes before it sends a request), against the Batch service model botocore ships.

Usage: validate_batch.py OPERATION FILE [OPERATION FILE ...]; prints one line per problem, exits 1 if any.
"""

import json
import sys

import botocore.session
from botocore.validate import ParamValidator

model = botocore.session.get_session().get_service_model("batch")
problems = []
args = sys.argv[1:]
for operation, path in zip(args[::2], args[1::2]):
    with open(path, encoding="utf-8") as f:
        params = json.load(f)
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    if report.has_errors():
        problems.append(f"{path} ({operation}):\n{report.generate_report()}")
    else:
        print(f"{path}: valid {operation} input")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
