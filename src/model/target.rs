//! Validated identities of what is scanned: account ids, regions, partitions and targets.
//!
//! Everything here is checked at the edge (CLI, config, API answers) so the rest of the program never sees a
//! malformed account id or region.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A 12-digit AWS account id, held inline (its twelve ASCII digits): every finding, coverage entry and
/// error names one, and a merge may hold a million of them (issue 26). Ordered and hashed as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId([u8; 12]);

impl AccountId {
    pub fn as_str(&self) -> &str {
        // Only `from_str` builds one, from twelve ASCII digits: always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AccountId").field(&self.as_str()).finish()
    }
}

impl Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl FromStr for AccountId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match <[u8; 12]>::try_from(s.as_bytes()) {
            Ok(digits) if digits.iter().all(u8::is_ascii_digit) => Ok(Self(digits)),
            _ => Err(format!("invalid account id '{s}': expected exactly 12 digits, e.g. 123456789012")),
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS partition. Partitions are told apart by their region names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Partition {
    #[serde(rename = "aws")]
    Aws,
    #[serde(rename = "aws-cn")]
    AwsCn,
    #[serde(rename = "aws-us-gov")]
    AwsUsGov,
    /// The AWS European Sovereign Cloud (`eusc-de-east-1`, endpoints under `amazonaws.eu`).
    #[serde(rename = "aws-eusc")]
    AwsEusc,
}

/// The partitions orgscan does not support, by their ARN names: the ISO (classified) partitions, whose
/// endpoints and services this build does not know.
pub const UNSUPPORTED_PARTITIONS: &[&str] = &["aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f"];

impl Partition {
    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
            Partition::AwsEusc => "aws-eusc",
        }
    }

    pub const ALL: [Partition; 4] = [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov, Partition::AwsEusc];

    /// The region of the partition's central (global) endpoints, where orgscan makes its STS and
    /// Organizations calls when no region is configured (the SDKs' partition data, "implicitGlobalRegion").
    pub fn home_region(self) -> Region {
        Region::from_static_unchecked(match self {
            Partition::Aws => "us-east-1",
            Partition::AwsCn => "cn-northwest-1",
            Partition::AwsUsGov => "us-gov-west-1",
            Partition::AwsEusc => "eusc-de-east-1",
        })
    }

    /// The DNS suffix of the partition's endpoints.
    pub fn dns_suffix(self) -> &'static str {
        match self {
            Partition::Aws | Partition::AwsUsGov => "amazonaws.com",
            Partition::AwsCn => "amazonaws.com.cn",
            Partition::AwsEusc => "amazonaws.eu",
        }
    }

    /// The partition named by an ARN's second field (`arn:<partition>:...`).
    pub fn from_arn(arn: &str) -> Option<Self> {
        match arn.split(':').nth(1)? {
            "aws" => Some(Partition::Aws),
            "aws-cn" => Some(Partition::AwsCn),
            "aws-us-gov" => Some(Partition::AwsUsGov),
            "aws-eusc" => Some(Partition::AwsEusc),
            _ => None,
        }
    }

    /// The regions of this partition that orgscan knows, used when the Account API cannot list them.
    pub fn known_regions(self) -> impl Iterator<Item = &'static KnownRegion> {
        KNOWN_REGIONS.iter().filter(move |r| r.partition == self)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region orgscan knows about, and whether an account must opt in to it.
#[derive(Debug)]
pub struct KnownRegion {
    pub name: &'static str,
    pub partition: Partition,
    pub opt_in: bool,
}

macro_rules! regions {
    ($($name:literal $part:ident $opt:literal),* $(,)?) => {
        &[$(KnownRegion { name: $name, partition: Partition::$part, opt_in: $opt }),*]
    };
}

/// Where the bundled region table comes from, shown whenever it stands in for the Account API.
pub const KNOWN_REGIONS_SOURCE: &str =
    "the AWS General Reference \"AWS Regions\" table and the AWS SDKs' partition data, checked 2026-11-28";

/// Regions by partition, from the AWS General Reference "AWS Regions" table (checked 2026-11).
/// Opt-in regions are those launched after March 2019, which an account must enable before use.
pub static KNOWN_REGIONS: &[KnownRegion] = regions![
    "af-south-1" Aws true,
    "ap-east-1" Aws true,
    "ap-east-2" Aws true,
    "ap-northeast-1" Aws false,
    "ap-northeast-2" Aws false,
    "ap-northeast-3" Aws false,
    "ap-south-1" Aws false,
    "ap-south-2" Aws true,
    "ap-southeast-1" Aws false,
    "ap-southeast-2" Aws false,
    "ap-southeast-3" Aws true,
    "ap-southeast-4" Aws true,
    "ap-southeast-5" Aws true,
    "ap-southeast-6" Aws true,
    "ap-southeast-7" Aws true,
    "ca-central-1" Aws false,
    "ca-west-1" Aws true,
    "eu-central-1" Aws false,
    "eu-central-2" Aws true,
    "eu-north-1" Aws false,
    "eu-south-1" Aws true,
    "eu-south-2" Aws true,
    "eu-west-1" Aws false,
    "eu-west-2" Aws false,
    "eu-west-3" Aws false,
    "il-central-1" Aws true,
    "me-central-1" Aws true,
    "me-south-1" Aws true,
    "mx-central-1" Aws true,
    "sa-east-1" Aws false,
    "us-east-1" Aws false,
    "us-east-2" Aws false,
    "us-west-1" Aws false,
    "us-west-2" Aws false,
    "cn-north-1" AwsCn false,
    "cn-northwest-1" AwsCn false,
    "us-gov-east-1" AwsUsGov false,
    "us-gov-west-1" AwsUsGov false,
    "eusc-de-east-1" AwsEusc false,
];

/// An AWS region name such as `eu-west-1`. A region this build knows borrows its static name, so the
/// millions of findings a merge may hold do not each allocate it (issue 26); a newer region owns its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Region(std::borrow::Cow<'static, str>);

impl Region {
    /// For names fixed in the program (never user input).
    pub(crate) fn from_static_unchecked(name: &'static str) -> Self {
        Self(std::borrow::Cow::Borrowed(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn partition(&self) -> Partition {
        if self.0.starts_with("cn-") {
            Partition::AwsCn
        } else if self.0.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else if self.0.starts_with("eusc-") {
            Partition::AwsEusc
        } else {
            Partition::Aws
        }
    }

    /// Whether the account must enable this region before using it (unknown regions count as opt-in, so a
    /// rejected token there is read as "not enabled" rather than as bad credentials).
    pub fn is_opt_in(&self) -> bool {
        KNOWN_REGIONS.iter().find(|r| r.name == self.0).is_none_or(|r| r.opt_in)
    }
}

/// Region names of the ISO partitions (`us-iso-east-1`, `us-isob-east-1`, `eu-isoe-west-1`, `us-isof-south-1`).
fn is_iso_region(s: &str) -> bool {
    s.split('-').nth(1).is_some_and(|p| p.starts_with("iso"))
}

/// The syntax of a region name: `<area>-<direction>-<n>`, with the `us-gov-` and `eusc-` prefixes allowed.
fn region_syntax_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let (area, rest) = match parts.as_slice() {
        ["us", "gov", rest @ ..] => ("us", rest),
        ["eusc", area, rest @ ..] => (*area, rest),
        [area, rest @ ..] => (*area, rest),
        [] => return false,
    };
    let [direction, number] = rest else {
        return false;
    };
    area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !direction.is_empty()
        && direction.bytes().all(|b| b.is_ascii_lowercase())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for Region {
    type Err = String;

    /// Any well-formed region name is accepted, so regions launched after this build still work; the error
    /// lists the regions orgscan knows.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_iso_region(s) {
            return Err(format!(
                "region '{s}' belongs to an AWS ISO partition ({}), which orgscan does not support",
                UNSUPPORTED_PARTITIONS.join(", ")
            ));
        }
        if let Some(known) = KNOWN_REGIONS.iter().find(|r| r.name == s) {
            Ok(Self(std::borrow::Cow::Borrowed(known.name)))
        } else if region_syntax_ok(s) {
            Ok(Self(std::borrow::Cow::Owned(s.to_owned())))
        } else {
            let known: Vec<&str> = KNOWN_REGIONS.iter().map(|r| r.name).collect();
            Err(format!("invalid region '{s}': expected a region name such as eu-west-1; known regions: {}", known.join(", ")))
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One account in one region of one partition: the unit the scanner visits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub partition: Partition,
    pub account: AccountId,
    pub region: Region,
}

impl Target {
    pub fn new(account: AccountId, region: Region) -> Self {
        Self { partition: region.partition(), account, region }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", "", " 123456789012"] {
            let err = bad.parse::<AccountId>().unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
            assert!(err.contains("12 digits"), "{err}");
        }
    }

    #[test]
    fn regions_are_checked_for_syntax_and_know_their_partition() {
        for (name, partition) in [
            ("eu-west-1", Partition::Aws),
            ("us-gov-west-1", Partition::AwsUsGov),
            ("cn-north-1", Partition::AwsCn),
            ("ap-southeast-7", Partition::Aws),
        ] {
            assert_eq!(name.parse::<Region>().map(|r| r.partition()), Ok(partition));
        }
        for bad in ["not-a-region", "eu-west", "EU-WEST-1", "eu-west-1a", "euwest1", "", "us-gov-1"] {
            let err = bad.parse::<Region>().unwrap_err();
            assert!(err.contains(&format!("'{bad}'")) && err.contains("eu-central-1"), "{err}");
        }
    }

    #[test]
    fn opt_in_regions_are_known() {
        assert!("af-south-1".parse::<Region>().is_ok_and(|r| r.is_opt_in()));
        assert!("us-east-1".parse::<Region>().is_ok_and(|r| !r.is_opt_in()));
        assert!("xx-future-9".parse::<Region>().is_ok_and(|r| r.is_opt_in()));
    }

    #[test]
    fn partition_from_arn() {
        assert_eq!(Partition::from_arn("arn:aws-us-gov:iam::123456789012:root"), Some(Partition::AwsUsGov));
        assert_eq!(Partition::from_arn("nonsense"), None);
    }
}
