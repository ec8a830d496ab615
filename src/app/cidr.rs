//! The caller's network as a CIDR: given with `--cidr`, or looked up (only
//! by the operations that need it).

use std::net::IpAddr;

use anyhow::{Context, Result, bail};

use crate::exec::cmd::Cmd;
use crate::exec::runner::Runner;

/// Checks a CIDR (`203.0.113.7/32`, `2001:db8::/48`); a bare address gets
/// a host prefix. An address with host bits under its prefix
/// (`10.0.0.5/8`) is refused with the network it stands for, so that what
/// `=` compares and what `+` writes are the same text.
pub fn parse(text: &str) -> Result<String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not a CIDR such as 203.0.113.7/32"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => bail!("`{text}` is not a CIDR: the prefix length must be 0 to {max}"),
        },
    };
    let network = network_of(ip, prefix);
    if network != ip {
        bail!(
            "`{text}` has host bits set under its /{prefix} prefix: the network is {network}/{prefix}, write that"
        );
    }
    Ok(format!("{ip}/{prefix}"))
}

/// `ip` with the bits after `prefix` cleared.
fn network_of(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// Where the scripts asked for the caller's public address.
pub const LOOKUP_URL: &str = "https://api.ipify.org";

/// The caller's CIDR: the flag's value, or the public address as `/32`.
pub fn caller(run: &Runner, flag: Option<&str>) -> Result<String> {
    if let Some(cidr) = flag {
        return parse(cidr);
    }
    let lookup = Cmd::query("curl").args(["-fsS", "--max-time", "10", LOOKUP_URL]);
    let output = run
        .check(&lookup)
        .context("could not look up your public IP address: pass it with --cidr ADDRESS/32")?;
    parse(output.stdout.trim())
        .context("the public IP lookup gave no address: pass it with --cidr ADDRESS/32")
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_cidrs_and_bare_addresses() {
        assert_eq!(parse("203.0.113.7/32").unwrap(), "203.0.113.7/32");
        assert_eq!(parse("203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(parse("2001:db8::1").unwrap(), "2001:db8::1/128");
        assert_eq!(parse("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        let err = parse("10.0.0.5/8").unwrap_err().to_string();
        assert!(err.contains("10.0.0.0/8"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_a_cidr() {
        for bad in [
            "",
            "x",
            "300.1.1.1/32",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.5/8",
            "2001:db8::1/48",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
