//! Option groups that `orgscan scan` and `orgscan merge` share: the outputs, the runs-over-time options, the
//! ASFF directory; and `--shard`.

use std::path::PathBuf;

use super::ConfigError;
use crate::cli::{FailOnArg, HistoryArgs, NotifyArgs, OutputArgs, SarifSuppressedArg, SeverityArg};
use crate::files::{check_writable, is_stdout};
use crate::model::{AccountId, FailOn, FailPolicy, Region, Severity, Shard};
use crate::notify::{NotifyPlan, WebhookUrl};
use crate::report::Outputs;
use crate::store::{S3Url, StorePlan, is_s3};
use crate::triage::{Baseline, RuleSet};

/// What `{shard}` in an output path of a sharded scan becomes: the shard's index.
pub const SHARD_PLACEHOLDER: &str = "{shard}";

/// The output options with `{shard}` replaced by the shard's index (`--json /reports/shard-{shard}.json`): an
/// engine runs one command for every shard (an AWS Batch array job's children, a Kubernetes Indexed Job's
/// pods), and the release image has no shell to build each shard's file name. Outside a sharded scan
/// `{shard}` is refused, naming the option.
pub(crate) fn with_shard_index(o: &OutputArgs, shard: Option<Shard>) -> Result<OutputArgs, ConfigError> {
    let mut o = o.clone();
    let paths = [
        ("--json", &mut o.json),
        ("--html", &mut o.html),
        ("--sarif", &mut o.sarif),
        ("--sarif-dir", &mut o.sarif_dir),
        ("--ocsf", &mut o.ocsf),
        ("--ocsf-dir", &mut o.ocsf_dir),
    ];
    for (flag, path) in paths {
        let Some(text) = path.as_ref().map(|p| p.to_string_lossy().into_owned()) else { continue };
        if !text.contains(SHARD_PLACEHOLDER) {
            continue;
        }
        match shard {
            Some(s) => *path = Some(PathBuf::from(text.replace(SHARD_PLACEHOLDER, &s.index.to_string()))),
            None => {
                return Err(ConfigError(format!(
                    "invalid {flag} '{text}': {SHARD_PLACEHOLDER} is the shard's index, so it needs --shard INDEX/COUNT or --shard auto"
                )));
            }
        }
    }
    Ok(o)
}

/// `--asff-dir`: created if missing, and checked to accept files.
pub(crate) fn asff_dir(dir: &std::path::Path) -> Result<(), ConfigError> {
    not_stdout("--asff-dir", dir)?;
    output_dir("--asff-dir", dir, "batch-0001.json")
}

/// An output directory (`option`): created if missing, refused if it is something else, and probed for
/// writing with a file named `probe` (the file names are known only after the scan; any name checks the
/// directory).
fn output_dir(option: &str, dir: &std::path::Path, probe: &str) -> Result<(), ConfigError> {
    if dir.exists() && !dir.is_dir() {
        return Err(ConfigError(format!("invalid {option} '{}': it exists and is not a directory", dir.display())));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ConfigError(format!("invalid {option} '{}': cannot create the directory: {e}", dir.display())))?;
    check_writable(&dir.join(probe)).map_err(|e| ConfigError(format!("invalid {option} '{}': {e}", dir.display())))
}

/// A directory option given `-`: there is no stdout for a directory of files.
fn not_stdout(option: &str, dir: &std::path::Path) -> Result<(), ConfigError> {
    if is_stdout(dir) {
        return Err(ConfigError(format!(
            "invalid {option} '-': it names a directory of files, which cannot go to stdout; give a directory"
        )));
    }
    Ok(())
}

/// Outputs that would overwrite each other or an input, compared as files (same inode, or same canonical
/// directory and name), not as strings: `--html ./sub/../r.json` is `--json r.json`. Refused: two outputs
/// that are one file, an output that is an input (`--config`, `--suppressions`, a shard report; `--baseline`
/// too, except as `--json`: the baseline is read before the scan, so `--baseline r.json --json r.json` is the
/// documented way to compare with yesterday's report), and an output file inside an output directory.
/// Character devices and FIFOs (`/dev/null`) are streams: they never collide.
pub(crate) fn collisions(
    outputs: &Outputs,
    asff_dir: Option<&std::path::Path>,
    baseline: Option<&std::path::Path>,
    inputs: &[(&str, &std::path::Path)],
) -> Result<(), ConfigError> {
    use crate::files::{identity, is_inside, is_stream};
    let files: Vec<(&str, &std::path::Path)> =
        [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)]
            .into_iter()
            .filter_map(|(o, p)| p.as_deref().filter(|p| !is_stdout(p) && !is_stream(p)).map(|p| (o, p)))
            .collect();
    let same = |a: &std::path::Path, b: &std::path::Path| identity(a).is_some_and(|i| Some(i) == identity(b));
    for (i, (a, pa)) in files.iter().enumerate() {
        for (b, pb) in &files[i + 1..] {
            if same(pa, pb) {
                return Err(ConfigError(format!(
                    "{a} '{}' and {b} '{}' are the same file: give each output its own file",
                    pa.display(),
                    pb.display()
                )));
            }
        }
        let baseline = baseline.filter(|_| *a != "--json").map(|b| ("--baseline", b));
        for (input, pi) in inputs.iter().copied().chain(baseline) {
            if same(pa, pi) {
                return Err(ConfigError(format!(
                    "{a} '{}' is the {input} file '{}': writing it would destroy an input; give the output a file of its own",
                    pa.display(),
                    pi.display()
                )));
            }
        }
        for (d, dir) in
            [("--sarif-dir", outputs.sarif_dir.as_deref()), ("--ocsf-dir", outputs.ocsf_dir.as_deref()), ("--asff-dir", asff_dir)]
        {
            if let Some(dir) = dir
                && is_inside(pa, dir)
            {
                return Err(ConfigError(format!(
                    "{a} '{}' is inside {d} '{}', whose files orgscan names and replaces: give it a path outside",
                    pa.display(),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// `--shard` and `--shard-count` (`var` reads the environment, for `--shard auto`).
pub fn shard_of(shard: Option<&str>, count: Option<u32>, var: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ConfigError> {
    match shard.map(str::trim) {
        None if count.is_some() => Err(ConfigError("--shard-count (or ORGSCAN_SHARD_COUNT) needs --shard auto".into())),
        None => Ok(None),
        Some("auto") => Ok(Some(crate::model::shard::from_env(var, count)?)),
        Some(v) => {
            let s = Shard::parse(v)?;
            match count {
                Some(c) if c != s.count => Err(ConfigError(format!(
                    "--shard {v} and --shard-count {c} (or ORGSCAN_SHARD_COUNT) disagree: give the count once, in --shard INDEX/COUNT"
                ))),
                _ => Ok(Some(s)),
            }
        }
    }
}

/// The output options, validated: conflicts refused, files and directories probed for writing.
pub(crate) fn outputs(o: &OutputArgs) -> Result<Outputs, ConfigError> {
    let outputs = Outputs {
        json: o.json.clone(),
        sarif: o.sarif.clone(),
        sarif_dir: o.sarif_dir.clone(),
        sarif_category: o.sarif_category.clone(),
        sarif_omit_suppressed: o.sarif_suppressed == Some(SarifSuppressedArg::Omit),
        html: o.html.clone(),
        ocsf: o.ocsf.clone(),
        ocsf_dir: o.ocsf_dir.clone(),
    };
    if o.sarif_suppressed.is_some() && outputs.sarif.is_none() && outputs.sarif_dir.is_none() {
        return Err(ConfigError("--sarif-suppressed needs --sarif PATH or --sarif-dir DIR".into()));
    }
    if outputs.sarif.is_some() && outputs.sarif_dir.is_some() {
        return Err(ConfigError("--sarif and --sarif-dir conflict: give one of them (--sarif-dir writes one file per account)".into()));
    }
    if let Some(c) = &outputs.sarif_category {
        if outputs.sarif.is_none() && outputs.sarif_dir.is_none() {
            return Err(ConfigError("--sarif-category needs --sarif PATH or --sarif-dir DIR".into()));
        }
        if c.trim().is_empty() || c.chars().any(char::is_control) {
            return Err(ConfigError(format!(
                "invalid --sarif-category {c:?}: give a non-empty category without control characters, e.g. orgscan/prod/"
            )));
        }
    }
    let files = [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)];
    for (i, (a, pa)) in files.iter().enumerate() {
        for (b, pb) in &files[i + 1..] {
            if let (Some(pa), Some(pb)) = (pa, pb)
                && pa == pb
            {
                return Err(ConfigError(format!("{a} and {b} both name '{}': give each output its own file", pa.display())));
            }
        }
    }
    for (option, path) in [("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)] {
        if path.as_deref().is_some_and(is_stdout) {
            return Err(ConfigError(format!("invalid {option} '-': only --json writes to stdout; give a file path")));
        }
    }
    for (option, dir) in [("--sarif-dir", &outputs.sarif_dir), ("--ocsf-dir", &outputs.ocsf_dir)] {
        if let Some(d) = dir {
            not_stdout(option, d)?;
        }
    }
    for (option, p) in [("--json", &outputs.json), ("--sarif", &outputs.sarif), ("--html", &outputs.html), ("--ocsf", &outputs.ocsf)] {
        if let Some(p) = p.as_deref().filter(|p| !is_stdout(p)) {
            check_writable(p).map_err(|e| ConfigError(format!("invalid {option}: {e}")))?;
        }
    }
    // The per-account SARIF files and the OCSF partition directories are named after the scan.
    if let Some(dir) = &outputs.sarif_dir {
        output_dir("--sarif-dir", dir, "orgscan.sarif")?;
    }
    if let Some(dir) = &outputs.ocsf_dir {
        output_dir("--ocsf-dir", dir, "orgscan.parquet")?;
    }
    Ok(outputs)
}

/// `--baseline` and `--suppressions` (read and validated) and the exit policy.
pub(crate) fn history(h: &HistoryArgs) -> Result<(Option<Baseline>, Option<RuleSet>, FailPolicy), ConfigError> {
    let baseline = h.baseline.as_deref().map(Baseline::load).transpose()?;
    let suppressions = h.suppressions.as_deref().map(RuleSet::load).transpose()?;
    let fail_policy = FailPolicy {
        fail_on: match h.fail_on {
            Some(FailOnArg::New) => FailOn::New,
            Some(FailOnArg::Any) | None => FailOn::Any,
        },
        min_severity: h.fail_severity.map(severity),
        warnings: h.fail_on_warning,
    };
    Ok((baseline, suppressions, fail_policy))
}

/// The S3 side and the notifications of a run (`orgscan scan` and `orgscan merge`). Outputs that name
/// `s3://` are staged: their option is rewritten to a path in the run's staging directory, so they are
/// rendered and probed like local files and uploaded after; `--baseline s3://...` is taken out of `h`
/// (it is read once the caller, the expected bucket owner, is known). Nothing here calls AWS.
pub(crate) fn remote(
    o: &mut OutputArgs,
    asff_dir: &mut Option<PathBuf>,
    h: &mut HistoryArgs,
    n: &NotifyArgs,
) -> Result<(StorePlan, NotifyPlan), ConfigError> {
    let mut store = StorePlan::default();
    store.stage("--json", "orgscan.json", false, &mut o.json)?;
    store.stage("--html", "orgscan.html", false, &mut o.html)?;
    store.stage("--sarif", "orgscan.sarif", false, &mut o.sarif)?;
    store.stage("--sarif-dir", "sarif/", true, &mut o.sarif_dir)?;
    store.stage("--ocsf", "orgscan.ocsf.jsonl", false, &mut o.ocsf)?;
    store.stage("--ocsf-dir", "ocsf/", true, &mut o.ocsf_dir)?;
    store.stage("--asff-dir", "asff/", true, asff_dir)?;
    if let Some(b) = h.baseline.as_deref().filter(|b| is_s3(b)) {
        store.baseline = Some(S3Url::parse("--baseline", &b.to_string_lossy(), false)?);
        h.baseline = None;
    }
    if let Some(v) = &h.history {
        if !v.starts_with("s3://") {
            return Err(ConfigError(format!("invalid --history '{v}': the history lives in S3; give s3://BUCKET/PREFIX/")));
        }
        store.history = Some(S3Url::parse("--history", v, true)?);
    }
    if let Some(k) = &o.s3_kms_key {
        if k.trim().is_empty() || k.chars().any(char::is_whitespace) {
            return Err(ConfigError(format!("invalid --s3-kms-key {k:?}: give a KMS key id, key ARN or alias/NAME")));
        }
        store.kms_key = Some(k.clone());
    }
    if let Some(a) = &o.s3_bucket_owner {
        store.bucket_owner = Some(a.trim().parse::<AccountId>().map_err(|e| ConfigError(format!("invalid --s3-bucket-owner: {e}")))?);
    }
    if let Some(r) = &o.s3_region {
        store.region = Some(r.trim().parse::<Region>().map_err(|e| ConfigError(format!("invalid --s3-region: {e}")))?);
    }
    let s3_only = [
        ("--s3-kms-key", o.s3_kms_key.is_some()),
        ("--s3-bucket-owner", o.s3_bucket_owner.is_some()),
        ("--s3-region", o.s3_region.is_some()),
    ];
    if let Some((flag, _)) = s3_only.iter().find(|(_, given)| *given).filter(|_| !store.uses_s3()) {
        return Err(ConfigError(format!("{flag} needs something in S3: an output s3://BUCKET/KEY, --baseline s3://... or --history")));
    }

    let mut notify = NotifyPlan::default();
    if let Some(t) = &n.notify_sns {
        crate::notify::sns::topic_region(t)?;
        notify.sns_topic = Some(t.clone());
    }
    if n.notify_webhook {
        let v = std::env::var(WEBHOOK_ENV)
            .map_err(|_| ConfigError(format!("--notify-webhook reads the webhook URL from {WEBHOOK_ENV}, which is not set")))?;
        notify.webhook = Some(WebhookUrl::new(WEBHOOK_ENV, &v)?);
    }
    if let Some(p) = &n.notify_webhook_file {
        let source = format!("--notify-webhook-file '{}'", p.display());
        let v = std::fs::read_to_string(p).map_err(|e| ConfigError(format!("cannot read {source}: {e}")))?;
        notify.webhook = Some(WebhookUrl::new(&source, &v)?);
    }
    notify.only_new = n.notify_only_new;
    notify.min_severity = n.notify_severity.map(severity);
    if notify.is_empty() && (n.notify_only_new || n.notify_severity.is_some()) {
        let flag = if n.notify_only_new { "--notify-only-new" } else { "--notify-severity" };
        return Err(ConfigError(format!("{flag} needs a notification: --notify-sns, --notify-webhook or --notify-webhook-file")));
    }
    Ok((store, notify))
}

/// The environment variable that holds the webhook URL for `--notify-webhook`.
pub const WEBHOOK_ENV: &str = "ORGSCAN_WEBHOOK_URL";

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}
