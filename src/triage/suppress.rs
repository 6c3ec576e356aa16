//! `--suppressions PATH`: accepted risks, each with a reason, an owner and (optionally) an expiry date
//! (TOML, `schemas/suppressions.schema.json`).
//!
//! ```toml
//! [[suppression]]
//! check = "kms-key-not-pending-deletion"     # a check id, or "*"
//! accounts = ["111111111111"]                 # any of: accounts, ous, regions, resources, tags
//! resources = ["arn:aws:kms:*:*:key/mrk-*"]   # ARN globs: * any run of characters, ? one character
//! reason = "Multi-Region replicas are retired by the key team"
//! owner = "kms-team@example.com"
//! expires = 2027-03-31                        # the last day the rule applies (UTC)
//! ```
//!
//! A rule matches a FAIL when its check matches and every criterion it gives does (within a criterion, any
//! listed value); expired rules match nothing. The first matching rule in file order is the one reported.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::check;
use crate::model::{AccountId, Finding, Region, Rule};
use crate::org::validate_ou_id;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    suppression: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    check: String,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    ous: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    reason: String,
    owner: String,
    /// A TOML date (`expires = 2027-03-31`) or, as the schema's `type: string, format: date` allows, the same
    /// date quoted (`expires = "2027-03-31"`).
    expires: Option<toml::Value>,
}

/// One rule, validated, ready to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub rule: Arc<Rule>,
    check: Option<&'static str>,
    accounts: Vec<AccountId>,
    ous: Vec<String>,
    regions: Vec<Region>,
    resources: Vec<String>,
    tags: Vec<(String, String)>,
}

/// Every rule of a suppressions file, in file order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub matchers: Vec<Matcher>,
}

impl RuleSet {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read --suppressions '{}': {e}", path.display()))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, String> {
        let shown = path.display();
        let file: File = toml::from_str(text).map_err(|e| format!("--suppressions '{shown}' is not valid: {e}"))?;
        let mut matchers = Vec::new();
        for (i, spanned) in file.suppression.into_iter().enumerate() {
            let line = line_of(text, spanned.span().start);
            let index = i + 1;
            let m = Matcher::new(spanned.into_inner(), index, line)
                .map_err(|e| format!("--suppressions '{shown}': rule {index} (line {line}): {e}"))?;
            matchers.push(m);
        }
        Ok(Self { matchers })
    }

    /// Whether a rule matches on tags (the checks then read the tags of failing resources).
    pub fn uses_tags(&self) -> bool {
        self.matchers.iter().any(|m| !m.tags.is_empty())
    }
}

/// The 1-based line of a byte offset. `Spanned` of an array-of-tables element starts at its `[[...]]`
/// header or its first key; either is on the rule's first lines.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

fn non_empty(field: &str, v: &str) -> Result<String, String> {
    let t = v.trim();
    if t.is_empty() { Err(format!("`{field}` must not be empty")) } else { Ok(t.to_owned()) }
}

impl Matcher {
    fn new(r: RawRule, index: usize, line: usize) -> Result<Self, String> {
        let check = match r.check.as_str() {
            "*" => None,
            id => Some(check::ALL.iter().map(|c| c.info().id).find(|c| *c == id).ok_or_else(|| {
                format!(
                    "unknown check '{id}'; allowed: \"*\" or one of {}",
                    check::ALL.iter().map(|c| c.info().id).collect::<Vec<_>>().join(", ")
                )
            })?),
        };
        let reason = non_empty("reason", &r.reason)?;
        let owner = non_empty("owner", &r.owner)?;
        let expires = match r.expires {
            None => None,
            Some(toml::Value::Datetime(d)) => match (d.date, d.time, d.offset) {
                (Some(date), None, None) => Some(
                    NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
                        .ok_or_else(|| format!("`expires = {d}` is not a calendar date"))?,
                ),
                _ => return Err(format!("`expires = {d}`: give a date without a time, e.g. expires = 2027-03-31")),
            },
            // The schema's pattern (YYYY-MM-DD) and format (a calendar date): nothing else is a date.
            Some(toml::Value::String(t)) => Some(
                Some(t.as_str())
                    .filter(|t| {
                        t.len() == 10 && t.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
                    })
                    .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
                    .ok_or_else(|| format!("`expires = {t:?}` is not a date: give YYYY-MM-DD, e.g. expires = 2027-03-31"))?,
            ),
            Some(v) => return Err(format!("`expires = {v}` is not a date: give YYYY-MM-DD, e.g. expires = 2027-03-31")),
        };
        let accounts = r.accounts.iter().map(|a| a.trim().parse::<AccountId>()).collect::<Result<Vec<_>, _>>()?;
        let ous = r.ous.iter().map(|o| validate_ou_id(o.trim())).collect::<Result<Vec<_>, _>>()?;
        let regions = r.regions.iter().map(|x| x.trim().parse::<Region>()).collect::<Result<Vec<_>, _>>()?;
        for g in &r.resources {
            if !g.starts_with("arn:") {
                return Err(format!("resource pattern '{g}' is not an ARN glob: it must start with arn:, e.g. arn:aws:kms:*:*:key/*"));
            }
        }
        for k in r.tags.keys() {
            if k.is_empty() {
                return Err("a tag key must not be empty".into());
            }
        }
        // A rule that matches every FAIL, however written: no criterion, or only criteria every resource meets
        // (a resource glob such as "arn:*" or "arn:*:*:*:*:*").
        let narrows = !accounts.is_empty()
            || !ous.is_empty()
            || !regions.is_empty()
            || !r.tags.is_empty()
            || (!r.resources.is_empty() && !r.resources.iter().any(|g| matches_every_arn(g)));
        if check.is_none() && !narrows {
            let how = r
                .resources
                .iter()
                .find(|g| matches_every_arn(g))
                .map_or(String::new(), |g| format!(" (resources = [{g:?}] matches every ARN)"));
            return Err(format!(
                "check = \"*\" without accounts, ous, regions, resources or tags that narrow it would suppress every FAIL{how}; narrow it"
            ));
        }
        Ok(Self {
            rule: Arc::new(Rule { index, line, check: r.check.clone(), reason, owner, expires }),
            check,
            accounts,
            ous,
            regions,
            resources: r.resources,
            tags: r.tags.into_iter().collect(),
        })
    }

    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.rule.expires.is_some_and(|d| today > d)
    }

    pub fn uses_ous(&self) -> bool {
        !self.ous.is_empty()
    }

    /// Whether the rule accepts this FAIL; `ous_of_account` are the OU ids above its account.
    pub fn matches(&self, f: &Finding, ous_of_account: &[String]) -> bool {
        self.check.is_none_or(|c| c == f.check.id)
            && (self.accounts.is_empty() || self.accounts.contains(&f.target.account))
            && (self.ous.is_empty() || self.ous.iter().any(|o| ous_of_account.contains(o)))
            && (self.regions.is_empty() || self.regions.contains(&f.target.region))
            && (self.resources.is_empty() || self.resources.iter().any(|g| glob(g, &f.resource.arn)))
            && (self.tags.is_empty()
                || f.tags.as_ref().is_some_and(|tags| self.tags.iter().all(|(k, v)| tags.get(k).is_some_and(|have| glob(v, have)))))
    }
}

/// Whether an ARN glob matches every ARN: after `arn:`, at most five `:`-separated parts (an ARN has six,
/// the resource part may hold more `:`), each only `*`s. `*` matches any run, empty and `:` included, so such a
/// glob matches `arn:aws:iam::123456789012:role/x` (empty region) as any other ARN.
fn matches_every_arn(glob: &str) -> bool {
    glob.strip_prefix("arn:").is_some_and(|rest| {
        let parts: Vec<&str> = rest.split(':').collect();
        parts.len() <= 5 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b == b'*'))
    })
}

/// `*` matches any run of characters (`/` and `:` included), `?` exactly one; everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at: backtrack there on a mismatch.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("arn:aws:kms:*:*:key/*", "arn:aws:kms:eu-west-1:111111111111:key/abc"));
        assert!(glob("arn:aws:kms:eu-west-?:*", "arn:aws:kms:eu-west-2:1:key/x"));
        assert!(!glob("arn:aws:kms:eu-west-?:*", "arn:aws:kms:eu-west-10:1:key/x"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(!glob("arn:aws:lambda:*", "arn:aws:kms:eu-west-1:1:key/x"));
        assert!(glob("data-*", "data-"));
        assert!(!glob("data", "database"));
    }

    fn parse(text: &str) -> Result<RuleSet, String> {
        RuleSet::parse(Path::new("s.toml"), text)
    }

    #[test]
    fn bad_rules_are_refused_with_their_line() {
        let ok = "[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-31\n";
        let set = parse(ok).unwrap();
        assert_eq!(set.matchers[0].rule.expires, NaiveDate::from_ymd_opt(2027, 1, 31));
        let two = format!("{ok}\n[[suppression]]\ncheck = \"no-such-check\"\nreason = \"r\"\nowner = \"o\"\n");
        let e = parse(&two).unwrap_err();
        assert!(e.contains("rule 2 (line 8)") && e.contains("unknown check 'no-such-check'"), "{e}");
        let e = parse("[[suppression]]\ncheck = \"*\"\nreason = \"r\"\nowner = \"o\"\n").unwrap_err();
        assert!(e.contains("would suppress every FAIL"), "{e}");
        let e = parse("[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nowner = \"o\"\n").unwrap_err();
        assert!(e.contains("missing field `reason`") && e.contains("line 1"), "{e}");
        let e = parse("[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nreason = \" \"\nowner = \"o\"\n").unwrap_err();
        assert!(e.contains("`reason` must not be empty"), "{e}");
        let e = parse(&ok.replace("2027-01-31", "2027-01-31T10:00:00Z")).unwrap_err();
        assert!(e.contains("give a date without a time"), "{e}");
        let e = parse(&ok.replace("regions = [\"eu-west-1\"]", "resources = [\"key/*\"]")).unwrap_err();
        assert!(e.contains("'key/*' is not an ARN glob"), "{e}");
        let e = parse(&ok.replace("regions = [\"eu-west-1\"]", "accounts = [\"12\"]")).unwrap_err();
        assert!(e.contains("rule 1 (line 1)") && e.contains("'12'"), "{e}");
        let e = parse(&ok.replace("regions = [\"eu-west-1\"]", "ous = [\"ou-x\"]")).unwrap_err();
        assert!(e.contains("'ou-x'"), "{e}");
        let e = parse(&ok.replace("owner", "ownr")).unwrap_err();
        assert!(e.contains("unknown field `ownr`"), "{e}");
    }

    #[test]
    fn a_quoted_date_is_a_date_as_the_schema_allows_and_nothing_else_is() {
        let ok = "[[suppression]]\ncheck = \"*\"\nregions = [\"eu-west-1\"]\nreason = \"r\"\nowner = \"o\"\nexpires = \"2027-03-31\"\n";
        assert_eq!(parse(ok).unwrap().matchers[0].rule.expires, NaiveDate::from_ymd_opt(2027, 3, 31));
        for bad in ["\"2027-02-30\"", "\"2027-3-31\"", "\"31/03/2027\"", "\"2027-03-31T00:00:00Z\"", "20270331", "true"] {
            let e = parse(&ok.replace("\"2027-03-31\"", bad)).unwrap_err();
            assert!(e.contains("is not a date") || e.contains("not a calendar date"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_rule_that_matches_every_fail_is_refused_however_it_is_written() {
        let rule = |criteria: &str| format!("[[suppression]]\ncheck = \"*\"\n{criteria}\nreason = \"r\"\nowner = \"o\"\n");
        for every in [
            "resources = [\"arn:*\"]",
            "resources = [\"arn:**\"]",
            "resources = [\"arn:*:*:*:*:*\"]",
            "resources = [\"arn:aws:kms:*\", \"arn:*\"]",
            "",
        ] {
            let e = parse(&rule(every)).unwrap_err();
            assert!(e.contains("would suppress every FAIL"), "{every}: {e}");
        }
        // Every real ARN shape is matched by such a glob: the refusal is not over-cautious.
        for arn in ["arn:aws:iam::123456789012:role/x", "arn:aws:kms:eu-west-1:123456789012:key/k", "arn:aws:s3:::bucket"] {
            assert!(glob("arn:*:*:*:*:*", arn) && matches_every_arn("arn:*:*:*:*:*"), "{arn}");
        }
        // Narrowing globs and other criteria stay allowed.
        for narrow in [
            "resources = [\"arn:aws:kms:*\"]",
            "resources = [\"arn:*:*:*:*:*:*\"]",
            "resources = [\"arn:*::*\"]",
            "regions = [\"eu-west-1\"]\nresources = [\"arn:*\"]",
        ] {
            assert!(parse(&rule(narrow)).is_ok(), "{narrow}");
        }
    }
}
