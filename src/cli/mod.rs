//! The command line (clap derive). Names here are public: keep them stable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod values;
pub use self::values::{
    ChecksFormat, EXIT_CODES_HELP, FIX_EXIT_CODES_HELP, FailOnArg, LogFormat, PrincipalArg, SarifSuppressedArg, ScpDeniedArg, SeverityArg,
};

#[derive(Debug, Parser)]
#[command(
    name = "orgscan",
    version,
    about = "Audit a whole AWS Organization for five security best practices",
    long_about = "Audit a whole AWS Organization (or one account) for five security best practices: \
OpenSearch encryption at rest, SageMaker notebooks without direct internet access, supported Lambda \
runtimes, KMS keys not pending deletion, and GuardDuty enabled in every region.\n\n\
Point it at a local emulator with AWS_ENDPOINT_URL; credentials come from the standard AWS chain.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// No progress bar and no log output below errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log lines on stderr as text (default) or as JSON objects, one per line (for CloudWatch, Datadog, ...).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the checks (id, severity, Security Hub control, title).
    Checks {
        #[arg(long, value_enum, default_value_t = ChecksFormat::Table)]
        format: ChecksFormat,
        /// Print instead the IAM policy document a principal of orgscan needs, generated from what the checks
        /// (their reads, their fixes), the walker and region discovery declare: the policies in deploy/ are
        /// this output.
        #[arg(long, value_enum, value_name = "PRINCIPAL", conflicts_with = "format")]
        iam_policy: Option<PrincipalArg>,
    },
    /// Scan the organization (or one account) and report.
    #[command(after_help = EXIT_CODES_HELP)]
    Scan(Box<ScanArgs>),
    /// Fix what a scan found: print the plan; with --apply, make the changes (confirmed, journaled) and rescan.
    #[command(
        long_about = "Fix what a scan found. The FAILs of an earlier JSON report (--from) or of a scan (--scan), narrowed by \
--checks, --accounts, --regions and --only, become a plan: per FAIL, the API calls orgscan would make, in which account and \
region and with which credentials, or the manual steps (with the resource's commands filled in). The plan is printed and \
nothing changes unless --apply is given; --apply asks for confirmation on a terminal and needs --yes otherwise.\n\n\
Automatic: KMS keys pending deletion (CancelKeyDeletion: the key is then Disabled; --enable-keys also enables it), GuardDuty \
(CreateDetector, or UpdateDetector of a disabled one: it adds cost), OpenSearch encryption at rest (UpdateDomainConfig, only \
with --allow-blue-green, where AWS allows it in place). SageMaker notebooks and Lambda runtimes are always manual.\n\n\
fix acts only on accounts of the organization it lists itself (ListAccounts; the caller's own account needs none): a report \
naming another account is refused. Each resource is read again in its account right before it is changed and skipped if it \
no longer fails; every step is appended to the journal (--journal, JSON Lines) as it happens, so the same command on the \
same report resumes a stopped run without repeating a change; the touched scopes are rescanned at the end with the audit \
role (--role-name).",
        after_help = FIX_EXIT_CODES_HELP
    )]
    Fix(Box<FixArgs>),
    /// Join the JSON reports of the shards of one sharded scan (`orgscan scan --shard`) into one report and
    /// every output, as one scan of the whole selection would have written them.
    #[command(
        long_about = "Join the JSON reports of the shards of one sharded scan (orgscan scan --shard INDEX/COUNT, each shard's \
--json) into one report, and write every output from it, as one unsharded scan of the same selection would have (timings, \
API-call statistics and the shard section aside). Reports of different organizations, callers, selections, checks, shard \
counts, schema versions or orgscan versions are refused (exit 2). A missing shard makes the result incomplete (exit 3 or \
4): the summary and the JSON report name the shard and its accounts, which get error coverage (ShardMissing).\n\n\
--baseline and --suppressions apply here, to the whole organization (give the shards the same --suppressions too \
when rules match on tags: the shards read the tags). The Security Hub import runs in each shard, with its accounts' \
credentials; the merged report shows every shard's import. The merge makes no AWS call.",
        after_help = EXIT_CODES_HELP
    )]
    Merge(Box<MergeArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shard reports (the --json files of `orgscan scan --shard I/N`), one per shard, in any order; a
    /// directory stands for every *.json file in it (the merged --json excepted).
    #[arg(value_name = "REPORT.json", required = true)]
    pub reports: Vec<PathBuf>,

    #[command(flatten)]
    pub outputs: OutputArgs,

    /// Write the merged findings as ASFF batches (DIR/<account>/<region>/batch-0001.json, ...), as `orgscan
    /// scan --asff-dir` does. Created if missing.
    #[arg(long, value_name = "DIR", help_heading = "Security Hub")]
    pub asff_dir: Option<PathBuf>,

    #[command(flatten)]
    pub history: HistoryArgs,

    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["from", "scan"]))]
pub struct FixArgs {
    /// Fix the FAILs of this earlier JSON report (the --json file of `orgscan scan`); read and validated
    /// before any AWS call.
    #[arg(long, value_name = "REPORT.json")]
    pub from: Option<PathBuf>,

    /// Scan first (with the audit role, --role-name), then fix the FAILs of that scan.
    #[arg(long)]
    pub scan: bool,

    /// Only these accounts (comma-separated ids); with --scan, the accounts scanned (default: the organization).
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    pub accounts: Vec<String>,

    /// Only these regions (comma-separated); with --scan, the regions scanned (default: every enabled region).
    #[arg(long, value_delimiter = ',', value_name = "REGION,REGION")]
    pub regions: Vec<String>,

    /// Only the FAIL with this fingerprint (the JSON report's `fingerprint`, printed in the plan); repeatable
    /// or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "FINGERPRINT")]
    pub only: Vec<String>,

    #[command(flatten)]
    pub checks: CheckArgs,

    /// Make the changes (after confirmation on a terminal; with --yes otherwise). Without it nothing changes.
    #[arg(long)]
    pub apply: bool,

    /// With --apply: do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// After cancelling a KMS key's deletion (which leaves the key Disabled), enable it (EnableKey).
    #[arg(long)]
    pub enable_keys: bool,

    /// Enable encryption at rest on OpenSearch domains in place (UpdateDomainConfig), which starts a
    /// blue/green deployment; without it those domains get manual steps.
    #[arg(long)]
    pub allow_blue_green: bool,

    /// The journal (JSON Lines): every step of --apply is appended as it happens. A run of the same plan (the
    /// same report and selection) skips what the journal shows it did; steps of other remediations are history.
    #[arg(long, value_name = "PATH", default_value = "orgscan-fix-journal.jsonl")]
    pub journal: PathBuf,

    /// Name of the role that makes the changes in each member account (deploy/remediation-role.yaml).
    /// Default: OrganizationAccountAccessRole. The scanning account uses its own credentials.
    #[arg(long, value_name = "NAME")]
    pub remediation_role_name: Option<String>,

    /// Role ARN template of the role that makes the changes, with {account} (and optionally {partition}).
    #[arg(long, value_name = "TEMPLATE")]
    pub remediation_role_arn_template: Option<String>,

    /// The audit role (read-only): for --scan and the rescan after the changes.
    #[command(flatten)]
    pub access: AccessArgs,

    #[command(flatten)]
    pub tuning: TuningArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Read scan options from this TOML file (schemas/config.schema.json); options given on the command
    /// line win. Relative paths in the file are relative to the file's directory.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub selection: SelectionArgs,

    #[command(flatten)]
    pub access: AccessArgs,

    #[command(flatten)]
    pub checks: CheckArgs,

    #[command(flatten)]
    pub outputs: OutputArgs,

    #[command(flatten)]
    pub tuning: TuningArgs,

    #[command(flatten)]
    pub security_hub: SecurityHubArgs,

    #[command(flatten)]
    pub history: HistoryArgs,

    #[command(flatten)]
    pub notify: NotifyArgs,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Runs over time")]
pub struct HistoryArgs {
    /// Compare with an earlier JSON report (the --json file of a previous scan of the same selection).
    /// Each FAIL is new or unchanged; a baseline FAIL is fixed only if its check, account and region were
    /// evaluated now and the resource passes or is gone; a baseline FAIL that could not be read this time is
    /// carried forward as stale (in SARIF and the JSON report), so no upload closes an alert it did not read.
    /// It may be the same file as --json: it is read before the scan. s3://BUCKET/KEY reads it from S3
    /// (GetObject, with the bucket owner checked as for the S3 outputs).
    #[arg(long, value_name = "PREVIOUS.json")]
    pub baseline: Option<PathBuf>,

    /// Keep every run in S3 and compare each with the latest complete one, with no bookkeeping: each run's
    /// JSON report (and every other output it writes) goes under PREFIX/runs/<start time>/, the baseline is
    /// the report PREFIX/latest.json points to, and that pointer moves to this run only after every output
    /// and notification was delivered and the scan was complete (a failed, incomplete or stopped run stays in
    /// runs/ and never becomes the baseline). Conflicts with --baseline.
    #[arg(long, value_name = "s3://BUCKET/PREFIX/", conflicts_with = "baseline")]
    pub history: Option<String>,

    /// Accepted risks (TOML, schemas/suppressions.schema.json): [[suppression]] rules with a check (id or
    /// "*"), any of accounts, ous, regions, resources (ARN globs) and tags, a reason, an owner and an optional
    /// expires date. A matching FAIL is reported as suppressed and does not fail the scan.
    #[arg(long, value_name = "PATH")]
    pub suppressions: Option<PathBuf>,

    /// Which unsuppressed FAILs fail the scan (exit 1 or 4): `any` (default; carried-forward ones included)
    /// or `new` (only FAILs new against --baseline; without a baseline every FAIL is new).
    #[arg(long, value_enum, value_name = "new|any")]
    pub fail_on: Option<FailOnArg>,

    /// FAILs below this severity do not fail the scan (they are still reported).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_severity: Option<SeverityArg>,

    /// WARNINGs (a Lambda runtime deprecating within --lambda-warn-days) fail the scan too, as low-severity
    /// FAILs would. Without it they are reported (SARIF `warning`, ASFF `WARNING`) and leave the exit code be.
    #[arg(long)]
    pub fail_on_warning: bool,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "What to scan")]
pub struct SelectionArgs {
    /// Scan only the account of the ambient credentials (no Organizations or STS AssumeRole calls).
    #[arg(long, conflicts_with_all = ["accounts", "ou", "exclude_ou", "exclude_accounts"])]
    pub this_account: bool,

    /// Scan exactly these accounts (comma-separated 12-digit ids); needs no Organizations permission.
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    pub accounts: Vec<String>,

    /// Leave these accounts out (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    pub exclude_accounts: Vec<String>,

    /// Scan only accounts under this OU, its whole subtree (repeatable; ids like ou-ab12-cdef3456).
    #[arg(long, value_name = "OU_ID")]
    pub ou: Vec<String>,

    /// Leave out accounts under this OU, its whole subtree (repeatable).
    #[arg(long, value_name = "OU_ID")]
    pub exclude_ou: Vec<String>,

    /// Regions to scan (comma-separated). Default: every region each account has enabled.
    #[arg(long, value_delimiter = ',', value_name = "REGION,REGION")]
    pub regions: Vec<String>,

    /// Regions to leave out (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "REGION,REGION")]
    pub exclude_regions: Vec<String>,

    /// What a scope whose calls a service control policy explicitly denies becomes: `skip` (default; the
    /// organization closed it, e.g. AWS Control Tower's Region deny; reported as "closed by SCP" and not
    /// counted as incomplete) or `error` (every deny counts as incomplete). Any other deny is always an error.
    #[arg(long, value_enum, value_name = "skip|error")]
    pub scp_denied: Option<ScpDeniedArg>,

    /// Scan only shard INDEX of COUNT (0-based, e.g. 0/4 ... 3/4): the selected accounts are split by a
    /// stable hash of the account id (independent of listing order; changing COUNT moves few accounts).
    /// Run every shard, each as its own process (a Kubernetes Indexed Job, an AWS Batch array job, a GitHub
    /// Actions matrix), each with --json, then join them with `orgscan merge`. `auto` reads the index from
    /// the job engine: JOB_COMPLETION_INDEX (Kubernetes; give --shard-count), or AWS_BATCH_JOB_ARRAY_INDEX
    /// with AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch). Give each shard the same selection and options. `{shard}` in
    /// an output path is the shard's index (--json /reports/shard-{shard}.json), for engines that run one
    /// command for every shard.
    #[arg(long, env = "ORGSCAN_SHARD", value_name = "INDEX/COUNT|auto")]
    pub shard: Option<String>,

    /// With --shard auto: the number of shards, where the engine does not say it (a Kubernetes Indexed
    /// Job's .spec.completions). With AWS Batch it must equal AWS_BATCH_JOB_ARRAY_SIZE.
    #[arg(long, env = "ORGSCAN_SHARD_COUNT", value_name = "N")]
    pub shard_count: Option<u32>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Access to member accounts")]
pub struct AccessArgs {
    /// Name of the audit role assumed in each member account. Default: OrganizationAccountAccessRole, which
    /// Organizations creates in new accounts but which is usually an administrator role: for scheduled scans
    /// deploy the read-only role of deploy/audit-role.yaml and name it here.
    #[arg(long, value_name = "NAME")]
    pub role_name: Option<String>,

    /// Role ARN template with {account} (and optionally {partition}), e.g.
    /// 'arn:{partition}:iam::{account}:role/Audit'. Overrides --role-name.
    #[arg(long, value_name = "TEMPLATE")]
    pub role_arn_template: Option<String>,

    /// External ID the audit role's trust policy requires (or ORGSCAN_EXTERNAL_ID).
    #[arg(long, env = "ORGSCAN_EXTERNAL_ID", hide_env_values = true, value_name = "ID")]
    pub external_id: Option<String>,

    /// Lifetime of each assumed-role session, in seconds (900 to 43200); sessions are refreshed before expiry.
    #[arg(long, value_name = "SECONDS")]
    pub session_duration: Option<u64>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Checks")]
pub struct CheckArgs {
    /// Run only these checks (comma-separated ids; see `orgscan checks`).
    #[arg(long, value_delimiter = ',', value_name = "ID,ID")]
    pub checks: Vec<String>,

    /// Replace the bundled Lambda runtime table (TOML, same layout as data/lambda-runtimes.toml). A table
    /// last updated more than 180 days before the scan date is announced in the summary and the report.
    #[arg(long, value_name = "PATH")]
    pub lambda_runtimes: Option<PathBuf>,

    /// A Lambda runtime deprecated within this many days of the scan date is a WARNING, not a PASS
    /// (0 to 3650; 0 turns warnings off). Default 90.
    #[arg(long, value_name = "DAYS")]
    pub lambda_warn_days: Option<u32>,

    /// Only the five verdicts, as Security Hub's controls give them: skip the reads that answer the next
    /// question (the Lambda versions aliases route to, the KMS aliases and every key's dependents, who
    /// administers GuardDuty). Fewer API calls; an alias on an old runtime is then not seen.
    #[arg(long)]
    pub shallow: bool,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Outputs")]
pub struct OutputArgs {
    /// Write the JSON report (schemas/report.schema.json) to this file, atomically; `-` writes it to
    /// stdout, and the summary then goes to stderr (`orgscan scan --json - | jq ...`). Every output option
    /// also takes s3://BUCKET/KEY (a directory option: s3://BUCKET/PREFIX/): rendered locally first, then
    /// written with PutObject (see --s3-kms-key, --s3-bucket-owner); a failed upload is exit code 5.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write one self-contained HTML report to this file, atomically: overview, accounts-by-checks heatmap
    /// grouped by OU (drill down to regions), a findings table that sorts and filters, errors and skips by
    /// cause. It fetches nothing when opened (inline styles, script and data; a CSP forbids requests).
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Write SARIF 2.1.0 for GitHub code scanning to this file, atomically: one result per FAIL. Past
    /// 5,000 results (the most GitHub keeps per run) it holds one run per account (at most 20); a file
    /// GitHub would reject or truncate is never written, and the error names --sarif-dir.
    #[arg(long, value_name = "PATH")]
    pub sarif: Option<PathBuf>,

    /// Write one SARIF file per account (<account-id>.sarif, each with its own category
    /// <category><account-id>/) into this directory, created if missing; upload each file separately.
    /// For organizations too large for one upload. Conflicts with --sarif.
    #[arg(long, value_name = "DIR")]
    pub sarif_dir: Option<PathBuf>,

    /// Code-scanning category of the SARIF runs (automationDetails.id); uploads with different categories
    /// keep separate alerts. Default: orgscan/<organization id or account id>/ for a full scan, followed by
    /// what a partial selection narrowed (e.g. orgscan/o-abc123/checks=kms-key-not-pending-deletion/), so a
    /// partial run never closes the alerts of what it did not look at.
    #[arg(long, value_name = "CATEGORY")]
    pub sarif_category: Option<String>,

    /// Suppressed FAILs in SARIF: `include` (default; with `suppressions`, kind external, and the rule's
    /// justification, which SARIF viewers honour) or `omit` (GitHub code scanning ignores `suppressions`
    /// and would keep the alert open: omitted, the alert closes, and reopens when the rule expires).
    #[arg(long, value_enum, value_name = "include|omit")]
    pub sarif_suppressed: Option<SarifSuppressedArg>,

    /// Write OCSF 1.5.0 Compliance Findings (class_uid 2003) to this file as JSON Lines, atomically: one
    /// event per (check, resource), PASS included, for SIEMs and the new Security Hub. Coverage gaps are not
    /// events: they are in the JSON report.
    #[arg(long, value_name = "PATH")]
    pub ocsf: Option<PathBuf>,

    /// Write the OCSF events as Parquet for an Amazon Security Lake custom source into this directory,
    /// created if missing: region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/orgscan-<start>.parquet.
    /// Sync the directory to s3://<lake bucket>/ext/<custom source>/.
    #[arg(long, value_name = "DIR")]
    pub ocsf_dir: Option<PathBuf>,

    /// Server-side encryption of every object orgscan writes to S3 with this AWS KMS key (id, ARN or
    /// alias/NAME; SSE-KMS). Without it the bucket's default encryption applies.
    #[arg(long, value_name = "KEY")]
    pub s3_kms_key: Option<String>,

    /// The account that must own every bucket orgscan writes to or reads from (S3 refuses the request with
    /// 403 AccessDenied otherwise). Default: the account of the credentials (GetCallerIdentity).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub s3_bucket_owner: Option<String>,

    /// The region of the S3 buckets. Default: the configured region (AWS_REGION, the profile).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Notifications")]
pub struct NotifyArgs {
    /// Publish one short digest per run to this Amazon SNS topic (ARN): new FAILs by severity, coverage
    /// lost, the verdict and exit code, and where the reports are.
    #[arg(long, value_name = "TOPIC_ARN")]
    pub notify_sns: Option<String>,

    /// Post the digest to the Slack-compatible incoming webhook whose URL is in the environment variable
    /// ORGSCAN_WEBHOOK_URL (the URL is a secret: it is never taken from the command line, never logged).
    #[arg(long)]
    pub notify_webhook: bool,

    /// Post the digest to the incoming webhook whose URL is in this file (e.g. a mounted secret).
    #[arg(long, value_name = "PATH", conflicts_with = "notify_webhook")]
    pub notify_webhook_file: Option<PathBuf>,

    /// Notify only when something is new: new FAILs (at or above --notify-severity), or coverage lost.
    #[arg(long)]
    pub notify_only_new: bool,

    /// Leave FAILs below this severity out of the digest (and out of what counts as new).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub notify_severity: Option<SeverityArg>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Speed and resilience")]
pub struct TuningArgs {
    /// Maximum API calls in flight across the whole scan.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Maximum API calls in flight in one account.
    #[arg(long, value_name = "N")]
    pub per_account_concurrency: Option<usize>,

    /// Attempts per API call, the first included (retries use exponential backoff with jitter).
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,

    /// Timeout of one API call attempt, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub call_timeout: Option<u64>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Security Hub")]
pub struct SecurityHubArgs {
    /// Import the findings into AWS Security Hub with BatchImportFindings, in each account and region with
    /// that account's own role (Security Hub accepts a finding only from its account). Re-runs update the same
    /// findings; PASSes are sent as PASSED/ARCHIVED (resolving earlier FAILs) and earlier orgscan findings no
    /// longer reported are archived. Scopes with any error or skip are left untouched.
    #[arg(long)]
    pub security_hub: bool,

    /// With --security-hub: send FAIL findings only (no finding is created for a passing resource); a PASS is
    /// sent only to resolve a finding that is active in Security Hub.
    #[arg(long)]
    pub security_hub_only_failed: bool,

    /// With --security-hub: read Security Hub and show, per account and region, how many findings would be
    /// imported, updated and archived; send nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Write the findings as ASFF batches ready for `aws securityhub batch-import-findings --findings
    /// file://...`: DIR/<account>/<region>/batch-0001.json, ... (at most 100 findings and 6 MB each).
    /// Created if missing; earlier batch files in those directories are replaced.
    #[arg(long, value_name = "DIR")]
    pub asff_dir: Option<PathBuf>,
}
