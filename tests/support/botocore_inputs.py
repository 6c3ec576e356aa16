"""botocore's own parameter validation (the check the AWS SDK for Python makes before it sends a request) of
API inputs, against the service models botocore ships; shared by validate_batch.py and validate_template.py.
"""

import botocore.session
from botocore.validate import ParamValidator


def validate(inputs):
    """Validates each (name, service, operation, params) input: prints a line for each valid one, then each
    problem; returns the problems."""
    session = botocore.session.get_session()
    problems = []
    for name, service, operation, params in inputs:
        shape = session.get_service_model(service).operation_model(operation).input_shape
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            problems.append(f"{name} ({service} {operation}):\n{report.generate_report()}")
        else:
            print(f"{name}: valid {service} {operation} input")
    for p in problems:
        print(p)
    return problems
