"""Prints, as JSON, how each recipe in deploy/ starts orgscan, read from the recipe files themselves, so the
end-to-end test (tests/integration/recipes.rs) runs exactly their commands: per engine, the shard count, the
shard's command and the environment the recipe sets, and the merge step's command. Kubernetes and AWS Batch
run the release image, whose entrypoint is orgscan (no shell): their commands are orgscan's arguments, and
the exit codes the engine handles are read from the recipe (Kubernetes' podFailurePolicy, Batch's
retryStrategy). GitHub Actions runs shell steps.

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
    "script": ["orgscan"] + container["args"],
    "merge": ["orgscan"] + merge_container["args"],
    # The volume's subdirectory the shards write into (the merge mounts the whole volume).
    "shard_subpath": next(m.get("subPath", "") for m in container["volumeMounts"] if m["mountPath"] == "/reports"),
    "no_shell": "command" not in container and "command" not in merge_container,
    # Exit codes the Job does not retry, because the shard wrote its report (podFailurePolicy's FailIndex).
    "report_codes": [c for r in job["spec"]["podFailurePolicy"]["rules"] if r["action"] == "FailIndex" for c in r["onExitCodes"]["values"]],
}

# The CronJob wraps exactly the Indexed Job of orgscan-shards.yaml (what the test runs), and its merge runs
# the merge step's arguments.
crons = {d["metadata"]["name"]: d for d in load_yaml("kubernetes/cronjob.yaml")}
k8s["cron_wraps_the_job"] = crons["orgscan-shards"]["spec"]["jobTemplate"]["spec"] == job["spec"]
(cron_merge,) = crons["orgscan-merge"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
k8s["cron_merge"] = ["orgscan"] + cron_merge["args"]

definition = load_json("aws-batch/job-definition.json")
shards = load_json("aws-batch/submit-shards.json")
merge = load_json("aws-batch/submit-merge.json")
batch = {
    "count": shards["arrayProperties"]["size"],
    "env": {e["name"]: e["value"] for e in definition["containerProperties"]["environment"]},
    "script": ["orgscan"] + definition["containerProperties"]["command"],
    "merge": ["orgscan"] + merge["containerOverrides"]["command"],
    "shard_subpath": "",
    "no_shell": definition["containerProperties"]["command"][0] == "scan" and merge["containerOverrides"]["command"][0] == "merge",
    "retry_codes": [int(e["onExitCode"]) for e in definition["retryStrategy"]["evaluateOnExit"] if e["action"] == "RETRY"],
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
