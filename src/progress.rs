//! The terminal progress bar (only on a terminal, never with --quiet).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::scan::Progress;

pub struct Bar {
    bar: ProgressBar,
    accounts_total: usize,
    accounts_done: usize,
    findings: usize,
    failed: usize,
    errors: usize,
}

impl Bar {
    /// A bar on stderr, or `None` when stderr is not a terminal.
    pub fn stderr() -> Option<Self> {
        let target = ProgressDrawTarget::stderr();
        if target.is_hidden() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} scopes  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(Self { bar, accounts_total: 0, accounts_done: 0, findings: 0, failed: 0, errors: 0 })
    }

    fn refresh(&self) {
        self.bar.set_message(format!(
            "accounts {}/{}  findings {} (FAIL {})  errors {}",
            self.accounts_done, self.accounts_total, self.findings, self.failed, self.errors
        ));
    }
}

impl Progress for Bar {
    fn accounts_total(&mut self, n: usize) {
        self.accounts_total = n;
        self.refresh();
    }

    fn account_done(&mut self) {
        self.accounts_done += 1;
        self.refresh();
    }

    fn targets_planned(&mut self, n: usize) {
        self.bar.inc_length(n as u64);
    }

    fn scope_done(&mut self, findings: usize, failed: usize, error: bool) {
        self.findings += findings;
        self.failed += failed;
        self.errors += usize::from(error);
        self.bar.inc(1);
        self.refresh();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
