//! `orgscan merge` in process: what it holds in memory while it joins the shards' reports (issue 26).

use crate::support::{alloc, synthetic};

/// The merge holds each finding once: the findings merged so far are handed to the reader of the next
/// report, which appends that part's to them, so no part's findings sit beside the merged list and no second
/// list is built; the sort moves findings in place. What it holds at its peak is the merged report, plus
/// the sort's positions and one entry being parsed. Holding a part's findings beside the merged ones (the
/// merge before issue 26 held every part and a merged copy) or a stable sort's scratch room breaks the bound.
#[test]
fn a_merge_holds_each_finding_once() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60_000;
    let mut report = synthetic::synthetic(n).unwrap();
    report.stats.accounts = report.accounts.len();
    let paths = synthetic::shard_reports(&report, 4, dir.path()).unwrap();
    drop(report);

    let before = alloc::reset_peak();
    let (merged, not_reached) = orgscan::merge::merge_until(&paths, &|| false).unwrap();
    let (peak, kept) = (alloc::peak() - before, alloc::current() - before);
    assert!(not_reached.is_empty());
    assert_eq!(merged.findings.len(), n);
    // A thirty-second of what is kept (the sort's positions and their sort's scratch are 12 bytes a finding,
    // against about 600 kept) and 1 MiB for the readers' buffers and the sections besides the findings. One
    // part's findings held beside the merged ones would be a quarter of the findings' inline bytes, the
    // stable sort's scratch half of them.
    let slack = kept / 32 + (1 << 20);
    let one_part = n / 4 * std::mem::size_of::<orgscan::model::Finding>();
    assert!(one_part > slack, "the bound would not see a part held twice: {one_part} bytes, slack {slack}");
    assert!(peak <= kept + slack, "merging {n} findings kept {kept} bytes and peaked at {peak}");
}
