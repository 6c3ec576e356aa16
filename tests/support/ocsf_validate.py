"""Validates orgscan's OCSF outputs (tests/integration/ocsf.rs runs it with the .venv python).

usage: ocsf_validate.py EVENTS.jsonl [PARQUET_DIR]

Every line must parse as py-ocsf-models' ComplianceFinding without errors, hold the attributes OCSF 1.5.0
requires (some have defaults in the models, so the raw JSON is checked too), and its `cloud` (a profile the
class model does not declare) must parse as py-ocsf-models' Cloud. Keys the models do not declare are listed
(`unknown`), so a misspelt attribute cannot pass silently. The Parquet files are read back with pyarrow as a
hive-partitioned dataset; each row, its free-form JSON strings parsed and its timestamps formatted as the JSON
events have them, must equal the JSON event of the same finding. Prints one JSON object with what it found.
"""

import datetime
import json
import os
import sys
import typing

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError
from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.objects.cloud import Cloud

# Required by OCSF 1.5.0: base event, Finding, Compliance Finding, and the objects they hold.
REQUIRED = [
    "activity_id", "category_uid", "class_uid", "type_uid", "time", "severity_id",
    "metadata", "metadata.version", "metadata.product", "metadata.product.vendor_name",
    "finding_info", "finding_info.uid", "finding_info.title",
    "compliance", "compliance.standards",
    "cloud", "cloud.provider",
]


def get(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def model_of(annotation):
    """The pydantic model inside Optional[...] / list[...] annotations, or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = model_of(arg)
        if m is not None:
            return m
    return None


def unknown_keys(value, model, prefix, out):
    if isinstance(value, list):
        for v in value:
            unknown_keys(v, model, prefix, out)
        return
    if not isinstance(value, dict):
        return
    fields = model.model_fields
    for k, v in value.items():
        if k not in fields:
            out.add(prefix + k)
            continue
        sub = model_of(fields[k].annotation)
        # Free-form objects (`resources[].data`, `unmapped`) are not walked.
        if sub is not None:
            unknown_keys(v, sub, prefix + k + ".", out)


def dt(v):
    if isinstance(v, datetime.datetime):
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (v.microsecond // 1000)
    return v


def as_event(row):
    """A Parquet row in the JSON events' form."""
    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return dt(v)
    e = walk(row)
    for r in e.get("resources", []):
        r["data"] = json.loads(r["data"])
    if "unmapped" in e:
        e["unmapped"] = json.loads(e["unmapped"])
    return e


def main():
    events_path = sys.argv[1]
    result = {"ocsf_version": OCSF_VERSION, "events": 0, "errors": [], "missing": [], "unknown": [], "values": []}
    unknown = set()
    events = {}
    with open(events_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            result["events"] += 1
            try:
                raw = json.loads(line)
                ComplianceFinding.model_validate_json(line)
                Cloud.model_validate(raw.get("cloud"))
            except (ValidationError, ValueError) as e:
                result["errors"].append("line %d: %s" % (n, e))
                continue
            missing = [path for path in REQUIRED if get(raw, path) is None]
            result["missing"].extend("line %d: %s" % (n, path) for path in missing)
            if missing:
                continue
            unknown_keys(raw, ComplianceFinding, "", unknown)
            unknown_keys(raw.get("cloud"), Cloud, "cloud.", unknown)
            if raw["class_uid"] != 2003 or raw["category_uid"] != 2 or raw["type_uid"] != raw["class_uid"] * 100 + raw["activity_id"]:
                result["values"].append("line %d: class, category or type_uid" % n)
            if raw["metadata"]["version"] != OCSF_VERSION:
                result["values"].append("line %d: metadata.version %s" % (n, raw["metadata"]["version"]))
            events[raw["finding_info"]["uid"]] = raw
    result["unknown"] = sorted(unknown)
    result["findings"] = sorted(
        [uid, e["compliance"]["status"], e["status"], e["severity"], e["cloud"]["account"]["name"],
         get(e, "cloud.org.ou_name"), e["finding_info"]["first_seen_time"], e["time"]]
        for uid, e in events.items()
    )

    if len(sys.argv) > 2:
        root = sys.argv[2]
        files = []
        for dirpath, _, names in os.walk(root):
            for name in names:
                files.append(os.path.relpath(os.path.join(dirpath, name), root))
        files.sort()
        mismatches = []
        rows = 0
        for rel in files:
            table = pq.read_table(os.path.join(root, rel))
            for row in table.to_pylist():
                rows += 1
                e = as_event(row)
                uid = e["finding_info"]["uid"]
                if events.get(uid) != e:
                    mismatches.append({"file": rel, "uid": uid, "parquet": e, "json": events.get(uid)})
                try:
                    ComplianceFinding.model_validate(e)
                except ValidationError as err:
                    result["errors"].append("%s: %s" % (rel, err))
        # The same directory read as a hive-partitioned dataset: the partition keys become columns.
        keys_schema = pa.schema([("region", pa.string()), ("accountId", pa.string()), ("eventDay", pa.string())])
        dataset = ds.dataset(root, format="parquet", partitioning=ds.partitioning(keys_schema, flavor="hive"))
        keys = dataset.to_table(columns=["region", "accountId", "eventDay", "cloud", "time"]).to_pylist()
        partitions = sorted({(k["region"], k["accountId"], str(k["eventDay"])) for k in keys})
        inconsistent = [
            k for k in keys
            if k["region"] != k["cloud"]["region"]
            or k["accountId"] != k["cloud"]["account"]["uid"]
            or str(k["eventDay"]) != datetime.datetime.fromtimestamp(k["time"] / 1000, datetime.timezone.utc).strftime("%Y%m%d")
        ]
        result["parquet"] = {
            "files": files,
            "rows": rows,
            "partitions": [list(p) for p in partitions],
            "mismatches": mismatches[:5],
            "inconsistent_partitions": len(inconsistent),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
