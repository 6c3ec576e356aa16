"""Validates the API inputs embedded in the CloudFormation template of deploy/aws/ with botocore's own
parameter validation (the check the AWS SDK for Python makes before it sends a request), against the service
models botocore ships. cfn-lint checks the template against the CloudFormation resource specification; this
checks what the services receive once CloudFormation and Step Functions pass the properties on:

- AWS::Batch::JobDefinition  -> batch RegisterJobDefinition
- AWS::ECS::TaskDefinition   -> ecs RegisterTaskDefinition
- AWS::Scheduler::Schedule   -> scheduler CreateSchedule
- the state machine's arn:aws:states:::batch:submitJob(.sync) tasks -> batch SubmitJob

CloudFormation's property names are the API's with an upper-case first letter (Batch, ECS) or the same
(Scheduler, whose API is PascalCase but for awsvpcConfiguration); Step Functions' Batch parameters
likewise. Intrinsic functions are
resolved to sample values of the right shape, !If by the Mode parameter given on the command line.

Usage: validate_template.py TEMPLATE MODE; prints one line per input, the problems, exits 1 if any.
"""

import json
import sys

from botocore_inputs import validate
from cfnlint.decode import decode

path, mode = sys.argv[1], sys.argv[2]
template, matches = decode(path)
if matches:
    print(f"{path}: cannot be read: {matches}")
    sys.exit(1)
params = template.get("Parameters", {})
conditions = {"UseBatch": mode == "batch", "UseEcs": mode == "ecs"}


def sample_param(name):
    p = params[name]
    if p["Type"].startswith("List<"):
        return ["subnet-0123456789abcdef0"] if "Subnet" in p["Type"] else ["sg-0123456789abcdef0"]
    if "Default" in p:
        return int(p["Default"]) if p["Type"] == "Number" else p["Default"]
    if name == "Image":
        return "ghcr.io/example/orgscan:0.1.0"
    return "arn:aws:secretsmanager:us-east-1:111111111111:secret:orgscan-external-id-AbCdEf"


def resolve(v):
    if isinstance(v, dict):
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                if a in params:
                    return sample_param(a)
                if a.startswith("AWS::"):
                    return {"AWS::Region": "us-east-1", "AWS::AccountId": "111111111111", "AWS::Partition": "aws"}.get(a, a)
                return f"arn:aws:ecs:us-east-1:111111111111:task-definition/{a}:1" if a == "ScanTask" else f"ref-{a}"
            if k == "Fn::GetAtt":
                return f"arn:aws:iam::111111111111:role/{a[0] if isinstance(a, list) else a}"
            if k == "Fn::Sub":
                text = a if isinstance(a, str) else a[0]
                return text.replace("${", "").replace("}", "")
            if k == "Fn::If":
                name, yes, no = a
                return resolve(yes if conditions[name] else no)
        return {k: resolve(x) for k, x in v.items() if resolve(x) != "AWS::NoValue"}
    if isinstance(v, list):
        return [resolve(x) for x in v]
    return v


def camel(v, keep=()):
    """CloudFormation's PascalCase property names as the API's camelCase (map keys such as log options kept)."""
    if isinstance(v, dict):
        return {(k if k in keep or k[:1].islower() else k[:1].lower() + k[1:]): (x if k == "Options" else camel(x, keep)) for k, x in v.items()}
    if isinstance(v, list):
        return [camel(x, keep) for x in v]
    return v


inputs = []
for name, res in template["Resources"].items():
    cond = res.get("Condition")
    if cond and not conditions[cond]:
        continue
    props = resolve(res.get("Properties", {}))
    kind = res["Type"]
    if kind == "AWS::Batch::JobDefinition":
        body = camel(props)
        body["jobDefinitionName"] = name
        inputs.append((name, "batch", "RegisterJobDefinition", body))
    elif kind == "AWS::ECS::TaskDefinition":
        inputs.append((name, "ecs", "RegisterTaskDefinition", camel(props)))
    elif kind == "AWS::Scheduler::Schedule":
        body = dict(props)
        body["Name"] = name
        # The Scheduler API is PascalCase but for this one member, which CloudFormation spells
        # AwsvpcConfiguration (the service model's awsvpcConfiguration).
        net = body.get("Target", {}).get("EcsParameters", {}).get("NetworkConfiguration")
        if net and "AwsvpcConfiguration" in net:
            net["awsvpcConfiguration"] = net.pop("AwsvpcConfiguration")
        inputs.append((name, "scheduler", "CreateSchedule", body))
    elif kind == "AWS::StepFunctions::StateMachine":
        for state_name, state in props["Definition"]["States"].items():
            if state.get("Resource", "").startswith("arn:aws:states:::batch:submitJob"):
                p = {}
                for k, x in state["Parameters"].items():
                    p[k] = x
                # A ".$" value is a path or an intrinsic function evaluated at run time: here, the array size.
                arr = p.get("ArrayProperties", {})
                if "Size.$" in arr:
                    size = arr.pop("Size.$")
                    assert size.startswith("States.StringToJson("), size
                    arr["Size"] = 4
                inputs.append((f"{name}.{state_name}", "batch", "SubmitJob", camel(p)))

sys.exit(1 if validate(inputs) or not inputs else 0)
