//! What KubeRay's flags share between commands: `KEY=VALUE,...` maps and
//! resource quantities, checked as KubeRay checks them.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::app::cli::UsageError;
use crate::ray::quantity::Quantity;

/// A `KEY=VALUE,KEY=VALUE` flag (KubeRay's string-to-string maps); given
/// more than once, the pairs add up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub BTreeMap<String, String>);

pub fn parse_pairs(text: &str) -> Result<Pairs, String> {
    let mut map = BTreeMap::new();
    for pair in text.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}` is not KEY=VALUE"))?;
        map.insert(k.trim().to_string(), v.to_string());
    }
    Ok(Pairs(map))
}

pub fn merged(all: &[Pairs]) -> BTreeMap<String, String> {
    all.iter().flat_map(|p| p.0.clone()).collect()
}

/// Refuses a size that is no quantity or is negative, naming its flag.
pub fn check_quantity(flag: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    match Quantity::parse(value) {
        None => Err(UsageError(format!(
            "--{flag} {value} is not a valid resource quantity (such as 2, 500m, 4Gi)"
        ))
        .into()),
        Some(q) if q.is_negative() => {
            Err(UsageError(format!("--{flag} cannot be negative (got {value})")).into())
        }
        Some(_) => Ok(()),
    }
}
