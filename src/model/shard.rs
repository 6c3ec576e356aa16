//! Sharded scans: which shard of an organization scan an account belongs to, and what a shard's report
//! records so that `orgscan merge` can join the shards into the result of one scan.
//!
//! The assignment is jump consistent hashing (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm", 2014) of a key taken from SHA-256 of the account id: a pure function of (account id, COUNT),
//! independent of listing order, stable across releases (never `DefaultHasher`), balanced, and when COUNT
//! grows by one only the accounts that move to the new shard move (about 1/COUNT of them).

use sha2::{Digest, Sha256};

use super::target::AccountId;

/// Organizations lets an organization grow to 10,000 accounts on request, and an AWS Batch array holds at
/// most 10,000 children ("an array size (between 2 and 10,000)", AWS Batch User Guide, "Array jobs").
pub const MAX_SHARDS: u32 = 10_000;

/// One shard of a sharded scan: `index` in `0..count` (0-based, as Kubernetes' completion index and AWS
/// Batch's array index are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// A shard from its index and count, checked; `what` names where the values came from in the error.
    pub fn new(index: u32, count: u32, what: &str) -> Result<Self, String> {
        if !(1..=MAX_SHARDS).contains(&count) {
            return Err(format!("invalid {what}: COUNT {count} is out of range; allowed 1 to {MAX_SHARDS}"));
        }
        if index >= count {
            return Err(format!(
                "invalid {what}: INDEX {index} is not below COUNT {count}; allowed 0 to {} (indexes start at 0)",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// `INDEX/COUNT`, e.g. `0/4`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let what = format!("--shard '{s}'");
        let bad = || format!("invalid {what}: expected INDEX/COUNT with 0 <= INDEX < COUNT <= {MAX_SHARDS} (e.g. 0/4), or auto");
        let (i, c) = s.trim().split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse::<u32>().map_err(|_| bad())?;
        let count = c.trim().parse::<u32>().map_err(|_| bad())?;
        Self::new(index, count, &what)
    }

    /// Whether `account` belongs to this shard.
    pub fn owns(&self, account: &AccountId) -> bool {
        shard_of(account, self.count) == self.index
    }
}

/// The 64-bit key of an account: the first 8 bytes of SHA-256("orgscan-shard\0" + account id).
fn key(account: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"orgscan-shard\0");
    h.update(account.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// Jump consistent hash of `key` into `buckets` (>= 1) buckets, exactly as in the paper's listing.
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    u32::try_from(b).unwrap_or(0)
}

/// The shard (0-based) of `account` among `count` shards.
pub fn shard_of(account: &AccountId, count: u32) -> u32 {
    jump(key(account.as_str()), count.max(1))
}

/// The digest of an account selection: SHA-256 over the sorted, distinct ids, one per line, as
/// `sha256:<hex>`. Shards of one scan agree on it; `orgscan merge` refuses reports that do not.
pub fn selection_digest<'a>(accounts: impl IntoIterator<Item = &'a AccountId>) -> String {
    let mut ids: Vec<&str> = accounts.into_iter().map(AccountId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What a shard's report records about its shard: which one, and the full selection it is a part of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard: Shard,
    /// Every account of the scan's selection (all shards), sorted: a missing shard's accounts are named from it.
    pub selection: Vec<AccountId>,
    /// [`selection_digest`] of `selection`.
    pub digest: String,
    /// What the selection narrowed (checks, regions, OUs) without the shard: the merged report's `partial`.
    pub partial: Option<String>,
}

impl ShardInfo {
    pub fn new(shard: Shard, mut selection: Vec<AccountId>, partial: Option<String>) -> Self {
        selection.sort();
        selection.dedup();
        let digest = selection_digest(&selection);
        Self { shard, selection, digest, partial }
    }

    /// The accounts of the selection that shard `index` scans.
    pub fn accounts_of(&self, index: u32) -> impl Iterator<Item = &AccountId> {
        let count = self.shard.count;
        self.selection.iter().filter(move |a| shard_of(a, count) == index)
    }
}

/// Where `--shard auto` found the index, for messages.
pub const AUTO_SOURCES: &str = "JOB_COMPLETION_INDEX (Kubernetes Indexed Job, with --shard-count or ORGSCAN_SHARD_COUNT), \
AWS_BATCH_JOB_ARRAY_INDEX with AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch array job), or explicit values --shard INDEX/COUNT \
(e.g. a GitHub Actions matrix: --shard ${{ matrix.shard }}/4)";

/// `--shard auto`: the shard from the job engine's environment (`var` reads a variable), with `count` from
/// `--shard-count` / `ORGSCAN_SHARD_COUNT` when given.
///
/// - Kubernetes Indexed Job: "the control plane automatically sets the downward API to expose the index in
///   the JOB_COMPLETION_INDEX environment variable" (Kubernetes docs, "Indexed Job for Parallel Processing
///   with Static Work Assignment"); indexes run from 0 to `.spec.completions - 1`, which the pod does not
///   see: the count must be given.
/// - AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX "is only set in child array jobs. The array job index
///   begins at 0", and AWS_BATCH_JOB_ARRAY_SIZE "is set to the size of the parent array job" (AWS Batch User
///   Guide, "AWS Batch job environment variables").
/// - GitHub Actions sets no index: a matrix passes explicit values (`--shard 2/4`).
///
/// Both engines' variables at once, a count that disagrees with the engine's, a value that is not a number,
/// or none of them: refused, naming the value and what is allowed.
pub fn from_env(var: impl Fn(&str) -> Option<String>, count: Option<u32>) -> Result<Shard, String> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let number = |name: &str, v: &str| {
        v.trim().parse::<u32>().map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number; allowed 0 to {}", MAX_SHARDS - 1))
    };
    let k8s = get("JOB_COMPLETION_INDEX");
    let batch = get("AWS_BATCH_JOB_ARRAY_INDEX");
    match (k8s, batch) {
        (Some(k), Some(b)) => Err(format!(
            "--shard auto: both JOB_COMPLETION_INDEX={k:?} (Kubernetes) and AWS_BATCH_JOB_ARRAY_INDEX={b:?} (AWS Batch) are set; \
             give --shard INDEX/COUNT explicitly"
        )),
        (Some(k), None) => {
            let index = number("JOB_COMPLETION_INDEX", &k)?;
            let count = count.ok_or_else(|| {
                format!(
                    "--shard auto: JOB_COMPLETION_INDEX={k:?} is set (Kubernetes Indexed Job) but the shard count is not: give \
                     --shard-count N or ORGSCAN_SHARD_COUNT=N, equal to the Job's .spec.completions"
                )
            })?;
            Shard::new(index, count, &format!("--shard auto (JOB_COMPLETION_INDEX={index}, shard count {count})"))
        }
        (None, Some(b)) => {
            let index = number("AWS_BATCH_JOB_ARRAY_INDEX", &b)?;
            let size = get("AWS_BATCH_JOB_ARRAY_SIZE").ok_or_else(|| {
                format!("--shard auto: AWS_BATCH_JOB_ARRAY_INDEX={b:?} is set but AWS_BATCH_JOB_ARRAY_SIZE is not (AWS Batch sets both in array children)")
            })?;
            let size = number("AWS_BATCH_JOB_ARRAY_SIZE", &size)?;
            if let Some(c) = count
                && c != size
            {
                return Err(format!(
                    "--shard auto: the shard count {c} (--shard-count or ORGSCAN_SHARD_COUNT) disagrees with AWS_BATCH_JOB_ARRAY_SIZE={size}; \
                     drop it or make them equal"
                ));
            }
            Shard::new(index, size, &format!("--shard auto (AWS_BATCH_JOB_ARRAY_INDEX={index}, AWS_BATCH_JOB_ARRAY_SIZE={size})"))
        }
        (None, None) => Err(format!("--shard auto: no job engine's shard index is set; orgscan reads {AUTO_SOURCES}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> Vec<AccountId> {
        (0..n).map(|i| format!("{:012}", 100_000_000_000 + i * 1_000_003).parse().unwrap()).collect()
    }

    fn sizes(ids: &[AccountId], count: u32) -> Vec<usize> {
        let mut s = vec![0; count as usize];
        for a in ids {
            s[shard_of(a, count) as usize] += 1;
        }
        s
    }

    #[test]
    fn a_thousand_accounts_spread_evenly_over_4_and_5_shards() {
        let ids = ids(1000);
        // The exact figures of the pinned algorithm (they never change: a shard's accounts are a contract
        // between the shards of one scan, which may run different builds of one version).
        assert_eq!(sizes(&ids, 4), [233, 268, 224, 275]);
        assert_eq!(sizes(&ids, 5), [185, 213, 165, 218, 219]);
        // Balanced as a uniform random assignment would be: every shard within three standard deviations of
        // the mean (binomial: sqrt(n p (1 - p)); 41 accounts for COUNT 4, 38 for COUNT 5).
        for count in [4u32, 5] {
            let p = 1.0 / f64::from(count);
            let (mean, sd) = (1000.0 * p, (1000.0 * p * (1.0 - p)).sqrt());
            assert!(sizes(&ids, count).iter().all(|&n| (n as f64 - mean).abs() <= 3.0 * sd), "{count}: {:?}", sizes(&ids, count));
        }
    }

    #[test]
    fn going_from_4_to_5_shards_moves_only_the_accounts_of_the_new_shard() {
        let ids = ids(1000);
        let moved: Vec<&AccountId> = ids.iter().filter(|a| shard_of(a, 4) != shard_of(a, 5)).collect();
        // Minimal movement: exactly the accounts the fifth shard takes (219, its size above; ideal 1000/5 = 200),
        // and each of them
        // moves there; a modulo hash would move about 800.
        assert_eq!(moved.len(), 219);
        assert!(moved.iter().all(|a| shard_of(a, 5) == 4));
        let modulo_moved = ids.iter().filter(|a| key(a.as_str()) % 4 != key(a.as_str()) % 5).count();
        assert!(modulo_moved > 700, "{modulo_moved}");
    }

    #[test]
    fn assignment_is_a_pure_function_of_the_id() {
        let mut ids = ids(50);
        let before: Vec<u32> = ids.iter().map(|a| shard_of(a, 7)).collect();
        ids.reverse();
        let after: Vec<u32> = ids.iter().rev().map(|a| shard_of(a, 7)).collect();
        assert_eq!(before, after);
        // Pinned: the key of one id (SHA-256 of "orgscan-shard\0123456789012", first 8 bytes) and its shard.
        let a: AccountId = "123456789012".parse().unwrap();
        assert_eq!(shard_of(&a, 1), 0);
        assert_eq!(format!("{:016x}", key(a.as_str())), KEY_123456789012);
        let union: usize = (0..7).map(|i| ids.iter().filter(|a| Shard { index: i, count: 7 }.owns(a)).count()).sum();
        assert_eq!(union, 50, "every account is in exactly one shard");
    }

    // Checked with `printf 'orgscan-shard\\000123456789012' | sha256sum`.
    const KEY_123456789012: &str = "2470f42d13030916";

    #[test]
    fn digests_ignore_order_and_duplicates() {
        let a = ids(3);
        let mut b = a.clone();
        b.reverse();
        b.push(a[0].clone());
        assert_eq!(selection_digest(&a), selection_digest(&b));
        assert_ne!(selection_digest(&a), selection_digest(&a[..2]));
        assert!(selection_digest(&a).starts_with("sha256:") && selection_digest(&a).len() == 7 + 64);
    }

    #[test]
    fn shard_values_are_checked() {
        assert_eq!(Shard::parse("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(Shard::parse(" 3 / 4 ").unwrap(), Shard { index: 3, count: 4 });
        let e = Shard::parse("4/4").unwrap_err();
        assert!(e.contains("'4/4'") && e.contains("allowed 0 to 3"), "{e}");
        for bad in ["1", "a/4", "1/", "-1/4", "1/4/5"] {
            let e = Shard::parse(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")) && e.contains("INDEX/COUNT"), "{e}");
        }
        assert!(Shard::parse("0/0").unwrap_err().contains("allowed 1 to 10000"));
        assert!(Shard::parse("0/10001").unwrap_err().contains("allowed 1 to 10000"));
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn auto_reads_each_engine_and_refuses_what_does_not_add_up() {
        // Kubernetes Indexed Job: the index from the pod, the count given.
        assert_eq!(from_env(env(&[("JOB_COMPLETION_INDEX", "2")]), Some(4)).unwrap(), Shard { index: 2, count: 4 });
        let e = from_env(env(&[("JOB_COMPLETION_INDEX", "2")]), None).unwrap_err();
        assert!(e.contains("JOB_COMPLETION_INDEX=\"2\"") && e.contains("--shard-count"), "{e}");
        let e = from_env(env(&[("JOB_COMPLETION_INDEX", "4")]), Some(4)).unwrap_err();
        assert!(e.contains("INDEX 4 is not below COUNT 4"), "{e}");
        let e = from_env(env(&[("JOB_COMPLETION_INDEX", "x")]), Some(4)).unwrap_err();
        assert!(e.contains("JOB_COMPLETION_INDEX=\"x\" is not a whole number"), "{e}");
        // AWS Batch array job: both variables.
        let batch = [("AWS_BATCH_JOB_ARRAY_INDEX", "1"), ("AWS_BATCH_JOB_ARRAY_SIZE", "3")];
        assert_eq!(from_env(env(&batch), None).unwrap(), Shard { index: 1, count: 3 });
        assert_eq!(from_env(env(&batch), Some(3)).unwrap(), Shard { index: 1, count: 3 });
        let e = from_env(env(&batch), Some(4)).unwrap_err();
        assert!(e.contains("shard count 4") && e.contains("AWS_BATCH_JOB_ARRAY_SIZE=3"), "{e}");
        let e = from_env(env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "1")]), None).unwrap_err();
        assert!(e.contains("AWS_BATCH_JOB_ARRAY_SIZE is not"), "{e}");
        let e = from_env(env(&[("AWS_BATCH_JOB_ARRAY_INDEX", "3"), ("AWS_BATCH_JOB_ARRAY_SIZE", "3")]), None).unwrap_err();
        assert!(e.contains("AWS_BATCH_JOB_ARRAY_INDEX=3") && e.contains("allowed 0 to 2"), "{e}");
        // Both engines, or none.
        let e = from_env(env(&[("JOB_COMPLETION_INDEX", "0"), ("AWS_BATCH_JOB_ARRAY_INDEX", "0")]), Some(2)).unwrap_err();
        assert!(e.contains("both"), "{e}");
        let e = from_env(env(&[]), Some(2)).unwrap_err();
        assert!(e.contains("no job engine's shard index") && e.contains("GitHub Actions matrix"), "{e}");
        // An empty variable counts as unset.
        assert!(from_env(env(&[("JOB_COMPLETION_INDEX", " ")]), Some(2)).unwrap_err().contains("no job engine"));
    }
}
