//! What the HTML page shows, computed once from the report: the totals and the heatmap (rendered by the
//! template) and the rows of the findings table and the drill-down (embedded as JSON for the script).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::check::{self, Fill};
use crate::model::{AccountId, BaselineState, CoverageStatus, Finding, Partition, ScanReport, Status, Subject};

#[derive(Debug, Serialize)]
pub struct Page {
    pub title: String,
    pub generated: String,
    pub exit_code: u8,
    pub incomplete: bool,
    pub totals: Totals,
    pub checks: Vec<CheckRow>,
    pub accounts: Vec<AccountRow>,
    /// Heatmap rows grouped by OU path (sorted), accounts by name then id.
    pub groups: Vec<Group>,
    pub scopes: Vec<Scope>,
    pub findings: Vec<Row>,
    /// Errors grouped by code: (code, check or "", scopes, accounts, an example message).
    pub errors: Vec<(String, String, usize, usize, String)>,
    /// Skipped scopes grouped by reason: (reason, scopes).
    pub skipped: Vec<(String, usize)>,
}

/// (account index, check index, region, state, pass, fail, not evaluable, detail) of one coverage scope: a
/// tuple, written as a JSON array, to keep a 1,000-account page small.
pub type Scope = (usize, usize, String, State, usize, usize, usize, String);

/// The state of a scope, or of a cell (an account and check over its regions: the worst of its scopes'),
/// ordered as a cell shows them: a FAIL first, then what could not be read, then a pass, then a skip.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// No scope (a cell only).
    #[default]
    None,
    /// Every scope skipped.
    Skip,
    Pass,
    /// Nothing failed, something was not read.
    Gap,
    Fail,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub findings: usize,
    pub pass: usize,
    pub fail: usize,
    /// WARNINGs: not failing yet (a runtime deprecated soon).
    pub warn: usize,
    /// FAILs per severity, critical first.
    pub by_severity: Vec<(&'static str, usize)>,
    pub evaluated: usize,
    pub skipped: usize,
    pub errors: usize,
    pub not_evaluable: usize,
    pub suppressed: usize,
    /// With a baseline.
    pub baseline: Option<BaselineTotals>,
}

#[derive(Debug, Serialize)]
pub struct BaselineTotals {
    pub since: String,
    pub new: usize,
    pub fixed: usize,
    pub unchanged: usize,
    pub stale: usize,
}

#[derive(Debug, Serialize)]
pub struct CheckRow {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: &'static str,
    pub pass: usize,
    pub fail: usize,
    pub docs: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub ou: String,
}

#[derive(Debug, Serialize)]
pub struct Group {
    pub ou: String,
    pub rows: Vec<HeatRow>,
}

#[derive(Debug, Serialize)]
pub struct HeatRow {
    pub account: usize,
    pub id: String,
    pub name: String,
    pub cells: Vec<Cell>,
}

/// One account and check over all its regions: the worst state, its counts, and whether something was not
/// read (a gap is never shown as a pass).
#[derive(Debug, Default, Serialize)]
pub struct Cell {
    pub state: State,
    pub gap: bool,
    pub pass: usize,
    pub fail: usize,
    pub label: String,
}

/// One row of the findings table (short keys: a 1,000-account page holds many).
#[derive(Debug, Serialize)]
pub struct Row {
    /// Check index, account index.
    pub c: usize,
    pub a: usize,
    pub s: &'static str,
    pub sev: &'static str,
    pub r: String,
    pub t: &'static str,
    pub id: String,
    pub arn: String,
    pub m: String,
    /// `new`, `unchanged` or null.
    pub b: Option<&'static str>,
    /// The suppression rule's justification, if suppressed.
    pub x: Option<String>,
    /// Carried forward from the baseline (not read in this scan).
    pub stale: bool,
    /// The check's CLI commands, filled in for this resource.
    pub fix: String,
    pub url: Option<String>,
}

/// The check's remediation commands with the region and the resource's id filled in: the placeholders the
/// checks declare for their resources' ids (`ResourceKind::id_placeholder`), each in every check's commands
/// or only in its own kind's, as declared.
fn fill(cli: &str, f: &Finding) -> String {
    let mut out = replace_token(cli, "REGION", f.target.region.as_str());
    let mut filled: Vec<&str> = Vec::new();
    for k in check::declare::resource_kinds() {
        let Some((token, scope)) = k.id_placeholder else { continue };
        if (scope == Fill::Everywhere || k.asff_type == f.resource.resource_type) && !filled.contains(&token) {
            out = replace_token(&out, token, &f.resource.id);
            filled.push(token);
        }
    }
    out
}

/// `text` with every whole `token` replaced by `value`: a placeholder is a word of capitals, digits and `_`,
/// so `KEY_ID` is not the end of `KMS_KEY_ID` (a key the user chooses, not the resource's own id).
fn replace_token(text: &str, token: &str, value: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(token) {
        let (before, after) = (rest[..i].chars().next_back(), rest[i + token.len()..].chars().next());
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) { token } else { value });
        rest = &rest[i + token.len()..];
    }
    out.push_str(rest);
    out
}

/// The resource in the AWS console (of the account the viewer is signed in to).
fn console_url(f: &Finding) -> Option<String> {
    let region = f.target.region.as_str();
    let host = match f.target.partition {
        Partition::Aws => format!("{region}.console.aws.amazon.com"),
        Partition::AwsCn => "console.amazonaws.cn".to_owned(),
        Partition::AwsUsGov => "console.amazonaws-us-gov.com".to_owned(),
        _ => return None,
    };
    let id = percent_encoding::utf8_percent_encode(&f.resource.id, percent_encoding::NON_ALPHANUMERIC).to_string();
    // The console page each check declares for its kind of resource.
    let path = (check::declare::resource_kind(f.resource.resource_type)?.console?)(region, &id);
    Some(format!("https://{host}/{path}"))
}

fn row(f: &Finding, accounts: &BTreeMap<&AccountId, usize>, checks: &BTreeMap<&str, usize>, stale: bool) -> Option<Row> {
    Some(Row {
        c: *checks.get(f.check.id)?,
        a: *accounts.get(&f.target.account)?,
        s: f.status.as_str(),
        sev: f.severity().as_str(),
        r: f.target.region.to_string(),
        t: f.resource.resource_type,
        id: f.resource.id.clone(),
        arn: f.resource.arn.clone(),
        m: f.message.clone(),
        b: if stale { Some(BaselineState::Unchanged.as_str()) } else { f.triage.baseline.map(BaselineState::as_str) },
        x: f.triage.suppressed.as_ref().map(|x| x.justification()),
        stale,
        fix: if f.status == Status::Fail { fill(f.check.remediation_cli, f) } else { String::new() },
        url: console_url(f),
    })
}

pub fn page(r: &ScanReport) -> Page {
    // Every account the report mentions, and every check that ran (or has findings).
    let mut ids: BTreeSet<&AccountId> = r.coverage.iter().map(|c| &c.account).collect();
    ids.extend(r.findings.iter().map(|f| &f.target.account));
    ids.extend(r.history.iter().flat_map(|h| &h.stale).map(|s| &s.finding.target.account));
    let mut check_list: Vec<&'static crate::model::CheckInfo> = r.checks.clone();
    for f in &r.findings {
        if !check_list.iter().any(|c| c.id == f.check.id) {
            check_list.push(f.check);
        }
    }
    let checks: BTreeMap<&str, usize> = check_list.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let accounts: Vec<AccountRow> = ids
        .iter()
        .map(|a| AccountRow {
            id: a.to_string(),
            name: r.account_name(a).unwrap_or_default().to_owned(),
            ou: r.ou_path(a).unwrap_or_default().to_owned(),
        })
        .collect();
    let index: BTreeMap<&AccountId, usize> = ids.iter().enumerate().map(|(i, a)| (*a, i)).collect();

    let mut findings: Vec<Row> = r.findings.iter().filter_map(|f| row(f, &index, &checks, false)).collect();
    findings.extend(r.history.iter().flat_map(|h| &h.stale).filter_map(|s| row(&s.finding, &index, &checks, true)));

    // Per (account, check, region): counts of findings, then the scopes' states.
    let (counts, unreadable) = scope_counts(r, &findings, &index, &checks);
    let mut scopes = Vec::new();
    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let mut errors: BTreeMap<(String, String), (usize, BTreeSet<usize>, String)> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut totals = Totals::default();
    for c in &r.coverage {
        let (Some(&a), Some(&k)) = (index.get(&c.account), checks.get(c.check_id)) else { continue };
        let region = c.region.as_ref().map_or_else(|| "(all)".to_owned(), |x| x.to_string());
        let (pass, fail) = counts.get(&(a, k, region.clone())).copied().unwrap_or_default();
        let ne = unreadable.get(&(a, k, region.clone())).copied().unwrap_or_default();
        let (state, detail) = match &c.status {
            CoverageStatus::Evaluated { .. } if ne > 0 => (State::Gap, format!("{ne} resource(s) could not be read")),
            CoverageStatus::Evaluated { resources, .. } => {
                (if fail > 0 { State::Fail } else { State::Pass }, format!("{resources} resource(s) evaluated"))
            }
            CoverageStatus::Error(e) => {
                let g = errors.entry((e.code.clone(), c.check_id.to_owned())).or_insert_with(|| (0, BTreeSet::new(), e.message.clone()));
                g.0 += 1;
                g.1.insert(a);
                (State::Gap, format!("not evaluated: {}: {}", e.code, e.message))
            }
            s => {
                let reason = s.skip_reason().unwrap_or_default();
                *skipped.entry(reason.clone()).or_default() += 1;
                (State::Skip, reason)
            }
        };
        match state {
            State::Skip => totals.skipped += 1,
            State::Gap if matches!(c.status, CoverageStatus::Error(_)) => totals.errors += 1,
            _ => totals.evaluated += 1,
        }
        let cell = cells.entry((a, k)).or_default();
        cell.pass += pass;
        cell.fail += fail;
        cell.gap |= state == State::Gap;
        cell.state = cell.state.max(state);
        scopes.push((a, k, region, state, pass, fail, ne, detail));
    }
    // Stale FAILs of scopes this run has no coverage for (an interrupted scan) still count in their cell.
    for f in findings.iter().filter(|f| f.stale) {
        let cell = cells.entry((f.a, f.c)).or_default();
        if !counts.contains_key(&(f.a, f.c, f.r.clone())) {
            cell.fail += 1;
            cell.gap = true;
            cell.state = State::Fail;
        }
    }

    let groups = heat_map(&accounts, cells, check_list.len());

    count_findings(r, &mut totals);
    let check_rows = check_list
        .iter()
        .map(|c| CheckRow {
            id: c.id,
            title: c.title,
            severity: c.severity.as_str(),
            pass: r.findings.iter().filter(|f| f.check.id == c.id && f.status == Status::Pass).count(),
            fail: r.failures().filter(|f| f.check.id == c.id).count(),
            docs: c.docs_url,
        })
        .collect();
    Page {
        title: title(&r.subject),
        generated: r.finished_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        exit_code: r.exit_code(),
        incomplete: r.is_incomplete(),
        totals,
        checks: check_rows,
        accounts,
        groups,
        scopes,
        findings,
        errors: errors.into_iter().map(|((code, check), (n, accts, msg))| (code, check, n, accts.len(), msg)).collect(),
        skipped: skipped.into_iter().collect(),
    }
}

/// The heat map: a row per account (its cells, one per check), grouped by OU path, sorted by name.
fn heat_map(accounts: &[AccountRow], mut cells: BTreeMap<(usize, usize), Cell>, n_checks: usize) -> Vec<Group> {
    let mut groups: BTreeMap<String, Vec<HeatRow>> = BTreeMap::new();
    for (i, acc) in accounts.iter().enumerate() {
        let row_cells = (0..n_checks)
            .map(|k| {
                let mut c = cells.remove(&(i, k)).unwrap_or_default();
                if c.fail > 0 {
                    c.state = State::Fail;
                }
                c.label = match c.state {
                    State::Fail => format!("✗ {}", c.fail),
                    State::Gap => "! not read".to_owned(),
                    State::Pass => format!("✓ {}", c.pass),
                    State::Skip => "– skipped".to_owned(),
                    State::None => "·".to_owned(),
                };
                if c.gap && c.state != State::Gap {
                    c.label.push_str(" !");
                }
                c
            })
            .collect();
        let ou = if acc.ou.is_empty() { "(no OU path)".to_owned() } else { acc.ou.clone() };
        groups.entry(ou).or_default().push(HeatRow { account: i, id: acc.id.clone(), name: acc.name.clone(), cells: row_cells });
    }
    groups
        .into_iter()
        .map(|(ou, mut rows)| {
            rows.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            Group { ou, rows }
        })
        .collect()
}

/// The totals of the findings: by status, by severity, suppressed, and against the baseline.
fn count_findings(r: &ScanReport, totals: &mut Totals) {
    totals.findings = r.findings.len();
    totals.pass = r.findings.iter().filter(|f| f.status == Status::Pass).count();
    totals.fail = r.failures().count();
    totals.warn = r.warnings().count();
    totals.not_evaluable = r.not_evaluable.len();
    totals.suppressed = r.failures().filter(|f| f.triage.suppressed.is_some()).count();
    totals.by_severity =
        ["critical", "high", "medium", "low"].iter().map(|s| (*s, r.failures().filter(|f| f.severity().as_str() == *s).count())).collect();
    totals.baseline = r.history.as_ref().map(|h| {
        let state = |b: BaselineState| r.baseline_count(b);
        BaselineTotals {
            since: h.baseline_started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            new: state(BaselineState::New),
            fixed: h.fixed.len(),
            unchanged: state(BaselineState::Unchanged),
            stale: h.stale.len(),
        }
    });
}

type PerScope<T> = BTreeMap<(usize, usize, String), T>;

/// Per (account, check, region): the PASS and FAIL rows, and the resources that could not be read.
fn scope_counts(
    r: &ScanReport,
    findings: &[Row],
    index: &BTreeMap<&AccountId, usize>,
    checks: &BTreeMap<&str, usize>,
) -> (PerScope<(usize, usize)>, PerScope<usize>) {
    let mut counts: PerScope<(usize, usize)> = BTreeMap::new();
    for f in findings {
        let e = counts.entry((f.a, f.c, f.r.clone())).or_default();
        // A WARNING is neither: the cell shows PASS and FAIL, the findings table lists it.
        if f.s == Status::Fail.as_str() {
            e.1 += 1
        } else if f.s == Status::Pass.as_str() {
            e.0 += 1
        }
    }
    let mut unreadable: PerScope<usize> = BTreeMap::new();
    for n in &r.not_evaluable {
        if let (Some(a), Some(c)) = (index.get(&n.target.account), checks.get(n.check_id)) {
            *unreadable.entry((*a, *c, n.target.region.to_string())).or_default() += 1;
        }
    }
    (counts, unreadable)
}

/// The page's title: what was scanned.
fn title(subject: &Subject) -> String {
    match subject {
        Subject::Organization { id, .. } => format!("orgscan: organization {id}"),
        Subject::Account(a) => format!("orgscan: account {a}"),
        Subject::Accounts { caller } => format!("orgscan: accounts scanned from {caller}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_placeholder_is_replaced_only_as_a_whole_word() {
        let cli = "aws es create-domain --region REGION --domain-name D --encryption-at-rest-options KmsKeyId=KMS_KEY_ID\naws kms x --key-id KEY_ID";
        assert_eq!(
            super::replace_token(cli, "KEY_ID", "k-1"),
            "aws es create-domain --region REGION --domain-name D --encryption-at-rest-options KmsKeyId=KMS_KEY_ID\naws kms x --key-id k-1"
        );
        assert_eq!(super::replace_token("REGION/REGIONS,REGION", "REGION", "eu-west-1"), "eu-west-1/REGIONS,eu-west-1");
    }
}
