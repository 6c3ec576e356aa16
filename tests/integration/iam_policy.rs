//! The shipped IAM policies and schemas are what the registry declares: `orgscan checks --iam-policy
//! PRINCIPAL` prints each principal's policy from the checks' reads and fixes, the walker's and region
//! discovery's declarations, and deploy/ holds exactly that output (a new check regenerates them with the
//! command, never by hand); the resource types the schemas list are the checks' own.

use std::process::Command;

use serde_json::{Map, Value, json};

use crate::support::{read_json, root};

fn iam_policy(principal: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_orgscan")).args(["checks", "--iam-policy", principal]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A YAML scalar as CloudFormation reads it here: quotes removed, and a `!Sub` string with the partition and
/// the account as the generated policy writes them (`*`: any partition, the account the role is in).
fn scalar(s: &str) -> Value {
    let s = s.trim();
    let s = s.strip_prefix("!Sub ").unwrap_or(s);
    let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
    Value::String(s.replace("${AWS::Partition}", "*").replace("${AWS::AccountId}", "*"))
}

/// The block of YAML `lines` (indent, text) at `lines[*i]`'s indentation: a list of `- ` items or a mapping of
/// `key: value` / `key:` + a deeper block (the subset the templates' policy documents use).
fn block(lines: &mut Vec<(usize, String)>, i: &mut usize) -> Value {
    let indent = lines[*i].0;
    if lines[*i].1.starts_with("- ") {
        let mut items = Vec::new();
        while *i < lines.len() && lines[*i].0 == indent && lines[*i].1.starts_with("- ") {
            let item = lines[*i].1[2..].to_owned();
            if item.contains(": ") || item.ends_with(':') {
                // `- Sid: X` opens a mapping whose keys sit where `Sid` does.
                lines[*i] = (indent + 2, item);
                items.push(block(lines, i));
            } else {
                items.push(scalar(&item));
                *i += 1;
            }
        }
        return Value::Array(items);
    }
    let mut map = Map::new();
    while *i < lines.len() && lines[*i].0 == indent && !lines[*i].1.starts_with("- ") {
        let text = lines[*i].1.clone();
        *i += 1;
        match text.split_once(": ") {
            Some((k, v)) => {
                map.insert(k.to_owned(), scalar(v));
            }
            None => {
                let k = text.strip_suffix(':').unwrap_or_else(|| panic!("not a YAML key: {text}"));
                map.insert(k.to_owned(), block(lines, i));
            }
        }
    }
    Value::Object(map)
}

/// The permission policy document of a CloudFormation template in deploy/ (its `PolicyDocument:`, not the
/// trust policy), as JSON.
fn template_policy(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    policy_of(&text).unwrap_or_else(|| panic!("{path} has no PolicyDocument"))
}

fn policy_of(text: &str) -> Option<Value> {
    let start = text.lines().position(|l| l.trim() == "PolicyDocument:")?;
    let base = text.lines().nth(start).map(|l| l.len() - l.trim_start().len())?;
    let mut lines: Vec<(usize, String)> = text
        .lines()
        .skip(start + 1)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| (l.len() - l.trim_start().len(), l.trim().to_owned()))
        .take_while(|(indent, _)| *indent > base)
        .collect();
    let mut i = 0;
    let doc = block(&mut lines, &mut i);
    assert_eq!(i, lines.len(), "the policy document was not read to its end: {lines:?}");
    Some(doc)
}

#[test]
fn the_scanner_policy_in_deploy_is_the_generated_one() {
    let shipped = std::fs::read_to_string(root().join("deploy/scanner-policy.json")).unwrap();
    assert_eq!(iam_policy("scanner"), shipped, "deploy/scanner-policy.json: run `orgscan checks --iam-policy scanner`");
}

#[test]
fn the_audit_and_remediation_roles_in_deploy_grant_the_generated_policies() {
    for (principal, path) in [("audit", "deploy/audit-role.yaml"), ("remediation", "deploy/remediation-role.yaml")] {
        let generated: Value = serde_json::from_str(&iam_policy(principal)).unwrap();
        assert_eq!(template_policy(path), generated, "{path}: its policy document is not `orgscan checks --iam-policy {principal}`");
    }
}

#[test]
fn the_template_reader_reads_lists_mappings_and_cloudformation_strings() {
    let yaml = "PolicyDocument:\n  Version: \"2012-10-17\"\n  Statement:\n    - Sid: A\n      Action:\n        - x:One\n        # a comment\n        - x:Two\n      \
                Resource: !Sub \"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/r\"\n      Condition:\n        StringLike:\n          k:K: v\n\
                Outputs:\n";
    let doc = policy_of(yaml).unwrap();
    let want = json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Action": ["x:One", "x:Two"], "Resource": "arn:*:iam::*:role/r",
        "Condition": {"StringLike": {"k:K": "v"}}}]});
    assert_eq!(doc, want);
}

#[test]
fn the_schemas_list_the_registry_s_resource_types() {
    let kinds: Vec<&str> = orgscan::check::declare::resource_kinds().map(|k| k.asff_type).collect();
    let report = read_json(&root().join("schemas/report.schema.json"));
    let listed: Vec<&str> = report["$defs"]["finding_fields"]["properties"]["resource_type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, kinds, "schemas/report.schema.json: a finding's resource_type");
    let asff = read_json(&root().join("schemas/asff-finding.schema.json"));
    let listed: Vec<&str> = find_enum_of(&asff, "Type").unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let mut types: Vec<&str> = orgscan::check::declare::resource_kinds().filter(|k| k.asff_listed).map(|k| k.asff_type).collect();
    if orgscan::check::declare::resource_kinds().any(|k| !k.asff_listed) {
        types.push(orgscan::securityhub::asff::OTHER);
    }
    assert_eq!(listed, types, "schemas/asff-finding.schema.json: Resources[].Type");
    // The schemas hold check ids to a pattern, not a list: every registered id matches it.
    let pattern = report["$defs"]["check_id"]["pattern"].as_str().unwrap();
    assert_eq!(pattern, "^[a-z][a-z0-9]*(-[a-z0-9]+)*$", "the check below follows this pattern");
    for id in orgscan::check::ids() {
        let kebab = id.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        assert!(kebab && id.starts_with(|c: char| c.is_ascii_lowercase()), "{id}");
    }
}

/// The `enum` of the first property named `name` in `schema`.
fn find_enum_of<'a>(schema: &'a Value, name: &str) -> Option<&'a Vec<Value>> {
    match schema {
        Value::Object(m) => m
            .get("properties")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("enum"))
            .and_then(Value::as_array)
            .or_else(|| m.values().find_map(|v| find_enum_of(v, name))),
        Value::Array(v) => v.iter().find_map(|x| find_enum_of(x, name)),
        _ => None,
    }
}
