"""Prints, as JSON, how each recipe in deploy/ starts orgscan, read from the recipe files themselves, so the
end-to-end test (tests/integration/recipes.rs) runs exactly their commands: per engine, the shard count, the
shard's shell script and the environment the recipe sets, and the merge step's script.

Usage: recipe_commands.py DEPLOY_DIR
"""

import json
import os
import sys

import yaml

deploy = sys.argv[1]


def load_yaml(path):
    with open(os.path.join(deploy, path), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def load_json(path):
    with open(os.path.join(deploy, path), encoding="utf-8") as f:
        return json.load(f)


(job,) = [d for d in load_yaml("kubernetes/orgscan-shards.yaml") if d["kind"] == "Job"]
(container,) = job["spec"]["template"]["spec"]["containers"]
(merge_job,) = load_yaml("kubernetes/merge-job.yaml")
(merge_container,) = merge_job["spec"]["template"]["spec"]["containers"]
k8s = {
    "count": job["spec"]["completions"],
    "completion_mode": job["spec"]["completionMode"],
    "grace_seconds": job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
    "service_account": job["spec"]["template"]["spec"]["serviceAccountName"],
    "env": {e["name"]: e["value"] for e in container["env"] if "value" in e},
    "script": container["command"] + container["args"],
    "merge": merge_container["command"] + merge_container["args"],
}

definition = load_json("aws-batch/job-definition.json")
shards = load_json("aws-batch/submit-shards.json")
merge = load_json("aws-batch/submit-merge.json")
batch = {
    "count": shards["arrayProperties"]["size"],
    "env": {e["name"]: e["value"] for e in definition["containerProperties"]["environment"]},
    "script": definition["containerProperties"]["command"],
    "merge": merge["containerOverrides"]["command"],
}

workflow = load_yaml("github-actions/orgscan-sharded.yml")[0]
steps = lambda job: [s["run"] for s in workflow["jobs"][job]["steps"] if "run" in s]
gha = {
    "count": len(workflow["jobs"]["scan"]["strategy"]["matrix"]["shard"]),
    "shards_env": workflow["env"]["SHARDS"],
    "script": steps("scan"),
    "merge": steps("merge"),
}
print(json.dumps({"k8s": k8s, "batch": batch, "gha": gha}))
