//! Seeds the local demo organization into a moto server (used by scripts/demo.sh).
//!
//! Usage: `cargo run --example demo_seed -- http://127.0.0.1:PORT [members] [regions]`
//! Prints shell `export` lines with the management account's credentials.

// A development tool: it prints what a shell evals, and seeds with the tests' own code (which unwraps).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::too_many_lines)]

#[path = "../tests/support/estate.rs"]
mod estate;

use estate::{Mix, Moto, create_org, seed_account};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), estate::BoxError> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().ok_or("usage: demo_seed ENDPOINT [MEMBERS] [REGIONS]")?;
    let members: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(4);
    let regions: Vec<String> = args.next().unwrap_or_else(|| "eu-west-1,us-east-1".into()).split(',').map(str::to_owned).collect();
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    let moto = Moto { endpoint };
    let org = create_org(&moto, members).await?;
    let mut failing = 0;
    for (i, account) in org.all_accounts().iter().enumerate() {
        let creds = if *account == org.management { org.management_creds.clone() } else { moto.assume(account).await? };
        // The management account gets every branch; members a lighter mix. GuardDuty varies by region.
        let expected = seed_account(&moto, &creds, account, &regions, |r| {
            if i == 0 { Mix::full(((i + r) % 3) as u8) } else { Mix::light(((i + r) % 3) as u8) }
        })
        .await?;
        failing += expected.iter().filter(|e| e.status == "FAIL").count();
    }
    eprintln!(
        "demo organization {} seeded: management {} + {} members, regions {}, {failing} failing resources",
        org.id,
        org.management,
        org.members.len(),
        regions.join(",")
    );
    let c = &org.management_creds;
    println!("export AWS_ACCESS_KEY_ID='{}'", c.access_key_id());
    println!("export AWS_SECRET_ACCESS_KEY='{}'", c.secret_access_key());
    println!("export AWS_SESSION_TOKEN='{}'", c.session_token().unwrap_or_default());
    Ok(())
}
