//! Kubernetes resource quantities (`500m`, `2`, `4Gi`, `1G`), read into
//! thousandths and written back in a canonical form, for the RayCluster
//! status totals (`desiredCPU`, `desiredMemory`, `desiredGPU`).

/// The quantity in thousandths of a unit (`500m` CPU is 500).
pub fn parse(text: &str) -> Option<i128> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match suffix {
        "m" => 1e-3,
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some((number * scale * 1000.0).round() as i128)
}

/// Thousandths back to text: whole numbers plainly, fractions in `m`, and
/// large byte counts with the largest binary (or decimal) suffix that
/// divides them exactly.
pub fn format(milli: i128) -> String {
    if milli % 1000 != 0 {
        return format!("{milli}m");
    }
    let whole = milli / 1000;
    if whole == 0 {
        return "0".into();
    }
    for (suffix, factor) in [
        ("Pi", 1i128 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if whole % factor == 0 && whole >= factor {
            return format!("{}{suffix}", whole / factor);
        }
    }
    for (suffix, factor) in [
        ("P", 1_000_000_000_000_000i128),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1000),
    ] {
        if whole % factor == 0 && whole >= factor {
            return format!("{}{suffix}", whole / factor);
        }
    }
    whole.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_round_trip() {
        assert_eq!(parse("500m"), Some(500));
        assert_eq!(parse("2"), Some(2000));
        assert_eq!(parse("1.5"), Some(1500));
        assert_eq!(format(parse("2Gi").unwrap() * 3), "6Gi");
        assert_eq!(
            format(parse("500m").unwrap() + parse("1").unwrap()),
            "1500m"
        );
        assert_eq!(
            format(parse("1G").unwrap() + parse("500M").unwrap()),
            "1500M"
        );
        assert_eq!(format(parse("4").unwrap()), "4");
        assert_eq!(parse("lots"), None);
    }
}
