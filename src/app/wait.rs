//! How long to wait and how often to look, from flags, kas.yaml and the
//! environment. The waiting itself is the runner's (`ctx.run.wait`), so a
//! plan prints it instead.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::app::cli::Ctx;
pub use crate::exec::wait::{Patience, Waited, show};

/// `90`, `90s`, `5m`, `1h`, `1m30s`: kubectl's and helm's duration forms.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || {
        anyhow::anyhow!(
            "`{text}` is not a duration: write seconds (90), or a number with a unit: 90s, 5m, 1h, 1m30s"
        )
    };
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total += n * unit;
        digits.clear();
    }
    if !digits.is_empty() || text.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// The poll interval: one second, or `KAS_POLL_MS` (tests use 0).
pub fn interval(ctx: &Ctx) -> Result<Duration> {
    match ctx.env.non_empty("KAS_POLL_MS") {
        None => Ok(Duration::from_secs(1)),
        Some(ms) => match ms.parse() {
            Ok(ms) => Ok(Duration::from_millis(ms)),
            Err(_) => bail!("KAS_POLL_MS must be a number of milliseconds, not `{ms}`"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h1m1s").unwrap(), Duration::from_secs(3661));
        for bad in ["", "m", "5x", "5m3", "-1"] {
            let err = parse_duration(bad).unwrap_err().to_string();
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn shows_minutes_and_seconds() {
        assert_eq!(show(Duration::from_secs(75)), "1m15s");
        assert_eq!(show(Duration::from_secs(600)), "10m");
        assert_eq!(show(Duration::from_secs(7)), "7s");
    }
}
