//! The public parameters Rampart answers under `/aws/service/`: the global-infrastructure
//! Region parameters only. Every other public parameter (AMI aliases, service lists, …) is
//! answered as not found, since Rampart has no source of truth for them.

/// Regions Rampart publishes, with their long names.
pub const REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ca-central-1", "Canada (Central)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("eu-north-1", "Europe (Stockholm)"),
    ("eu-south-1", "Europe (Milan)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-west-2", "Europe (London)"),
    ("eu-west-3", "Europe (Paris)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("sa-east-1", "South America (Sao Paulo)"),
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
];

/// The path of the Region parameters.
pub const REGIONS_PATH: &str = "/aws/service/global-infrastructure/regions";

/// The value of a public parameter, if Rampart publishes it.
#[must_use]
pub fn lookup(name: &str) -> Option<String> {
    let rest = name.strip_prefix(REGIONS_PATH)?.strip_prefix('/')?;
    let (region, attr) = match rest.split_once('/') {
        Some((r, a)) => (r, Some(a)),
        None => (rest, None),
    };
    let (code, long) = REGIONS.iter().find(|(c, _)| *c == region)?;
    match attr {
        None => Some((*code).to_owned()),
        Some("longName") => Some((*long).to_owned()),
        Some("partition") => Some("aws".to_owned()),
        Some(_) => None,
    }
}

/// All public parameter names, sorted.
#[must_use]
pub fn all() -> Vec<String> {
    let mut out = Vec::new();
    for (code, _) in REGIONS {
        out.push(format!("{REGIONS_PATH}/{code}"));
        out.push(format!("{REGIONS_PATH}/{code}/longName"));
        out.push(format!("{REGIONS_PATH}/{code}/partition"));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_published() {
        assert_eq!(
            lookup("/aws/service/global-infrastructure/regions/us-east-1").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            lookup("/aws/service/global-infrastructure/regions/eu-west-1/longName").as_deref(),
            Some("Europe (Ireland)")
        );
        assert_eq!(
            lookup("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
            None
        );
        assert!(all().iter().all(|n| lookup(n).is_some()));
    }
}
