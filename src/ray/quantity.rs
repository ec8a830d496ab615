//! Kubernetes resource quantities (`2`, `500m`, `4Gi`, `1.5`): read,
//! added, multiplied and printed in the canonical form the API machinery
//! prints them in, so sums read as KubeRay's plugin shows them.

/// A quantity in thousandths, and whether it was written with a binary
/// suffix (`Ki`, `Mi`, ...), which decides how it prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantity {
    milli: i128,
    binary: bool,
}

const BINARY: &[(&str, u32)] = &[
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: &[(&str, u32)] = &[("k", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5), ("E", 6)];

impl Quantity {
    pub const ZERO: Quantity = Quantity {
        milli: 0,
        binary: false,
    };

    /// Reads `text`; `None` when it is no quantity.
    pub fn parse(text: &str) -> Option<Quantity> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let (negative, number) = match number.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, number.strip_prefix('+').unwrap_or(number)),
        };
        if number.is_empty() || number.contains(['+', '-']) {
            return None;
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        // Thousandths of one unit, exact to nine decimals before the suffix.
        let nanos_digits = format!("{fraction:0<9}");
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let nanos: i128 = nanos_digits.get(..9)?.parse().ok()?;
        let nano_units = whole.checked_mul(1_000_000_000)?.checked_add(nanos)?;
        let (factor_nanos, binary): (i128, bool) = match suffix {
            "" => (1, false),
            // Thousandths, millionths, billionths of one: in thousandths.
            "m" => return Some(Self::signed(nano_units / 1_000_000_000, negative, false)),
            "u" => {
                let milli = nano_units / 1_000_000_000_000;
                return Some(Self::signed(milli, negative, false));
            }
            "n" => {
                let milli = nano_units / 1_000_000_000_000_000;
                return Some(Self::signed(milli, negative, false));
            }
            s => {
                if let Some((_, p)) = BINARY.iter().find(|(n, _)| *n == s) {
                    (1024i128.pow(*p), true)
                } else if let Some((_, p)) = DECIMAL.iter().find(|(n, _)| *n == s) {
                    (1000i128.pow(*p), false)
                } else if let Some(exp) = s.strip_prefix(['e', 'E']) {
                    (10i128.checked_pow(exp.parse().ok()?)?, false)
                } else {
                    return None;
                }
            }
        };
        let milli = nano_units.checked_mul(factor_nanos)? / 1_000_000;
        Some(Self::signed(milli, negative, binary))
    }

    fn signed(milli: i128, negative: bool, binary: bool) -> Quantity {
        Quantity {
            milli: if negative { -milli } else { milli },
            binary,
        }
    }

    /// A JSON value that Kubernetes accepts as a quantity: a string, or a
    /// plain number.
    pub fn of_json(value: &serde_json::Value) -> Option<Quantity> {
        match value {
            serde_json::Value::String(s) => Quantity::parse(s),
            serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
            _ => None,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli == 0
    }

    pub fn is_negative(&self) -> bool {
        self.milli < 0
    }

    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity {
            milli: self.milli + other.milli,
            // The first non-zero one decides the format, as in Go.
            binary: if self.milli == 0 {
                other.binary
            } else {
                self.binary
            },
        }
    }

    pub fn times(self, n: i64) -> Quantity {
        Quantity {
            milli: self.milli * i128::from(n),
            binary: self.binary,
        }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.milli == 0 {
            return f.write_str("0");
        }
        let sign = if self.milli < 0 { "-" } else { "" };
        let milli = self.milli.abs();
        if milli % 1000 != 0 {
            return write!(f, "{sign}{milli}m");
        }
        let units = milli / 1000;
        let (table, base) = if self.binary && units % 1024 == 0 {
            (BINARY, 1024i128)
        } else {
            (DECIMAL, 1000i128)
        };
        let mut best = ("", units);
        for (suffix, power) in table {
            let divisor = base.pow(*power);
            if units % divisor == 0 {
                best = (suffix, units / divisor);
            } else {
                break;
            }
        }
        write!(f, "{sign}{}{}", best.1, best.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        Quantity::parse(text).unwrap().to_string()
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(show("2"), "2");
        assert_eq!(show("1000"), "1k");
        assert_eq!(show("1.5"), "1500m");
        assert_eq!(show("500m"), "500m");
        assert_eq!(show("4Gi"), "4Gi");
        assert_eq!(show("1536Mi"), "1536Mi");
        assert_eq!(show("0"), "0");
        assert_eq!(show("0.5Gi"), "512Mi");
        assert!(Quantity::parse("two").is_none());
        assert!(Quantity::parse("").is_none());
        assert!(Quantity::parse("-1").unwrap().is_negative());
    }

    #[test]
    fn sums_and_products() {
        let mem = Quantity::parse("4Gi").unwrap();
        assert_eq!(mem.times(3).to_string(), "12Gi");
        let cpu = Quantity::parse("500m").unwrap().times(3);
        assert_eq!(cpu.to_string(), "1500m");
        let total = Quantity::ZERO.plus(Quantity::parse("1Gi").unwrap());
        assert_eq!(
            total.plus(Quantity::parse("1Gi").unwrap()).to_string(),
            "2Gi"
        );
        assert_eq!(Quantity::parse("2").unwrap().times(2).to_string(), "4");
    }
}
