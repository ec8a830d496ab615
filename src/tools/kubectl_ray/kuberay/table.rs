//! How the `get` commands print: kubectl's table (upper-case headers,
//! columns three spaces apart, ages as kubectl writes them), or with
//! `-o json|yaml` the same rows as objects for scripts.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde_json::{Map, Value};

use crate::app::cli::Ctx;

/// `-o`: a table for people, JSON or YAML for scripts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Output {
    #[default]
    Text,
    Json,
    Yaml,
}

/// A column: its header in the table, its key in JSON and YAML.
pub struct Column {
    pub header: &'static str,
    pub key: &'static str,
}

pub const fn col(header: &'static str, key: &'static str) -> Column {
    Column { header, key }
}

/// Prints `rows` (one value per column) as `output` says.
pub fn print(ctx: &Ctx, output: Output, columns: &[Column], rows: &[Vec<Value>]) -> Result<()> {
    let objects = || -> Value {
        Value::Array(
            rows.iter()
                .map(|row| {
                    let map: Map<String, Value> = columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| (c.key.to_string(), v.clone()))
                        .collect();
                    Value::Object(map)
                })
                .collect(),
        )
    };
    match output {
        Output::Text => ctx.ui.say(&render(columns, rows)),
        Output::Json => ctx.ui.say(&serde_json::to_string_pretty(&objects())?),
        Output::Yaml => ctx.ui.say(&serde_yaml::to_string(&objects())?),
    }
    Ok(())
}

fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// kubectl's table: each column as wide as its widest cell plus three.
pub fn render(columns: &[Column], rows: &[Vec<Value>]) -> String {
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|c| c.header.to_string()).collect()];
    lines.extend(rows.iter().map(|r| r.iter().map(cell).collect()));
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, c) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// Seconds since the epoch of an RFC 3339 time (`2026-12-01T06:00:00Z`).
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => (time, ""),
    };
    let mut t = clock.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let min: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.split('.').next()?.parse().ok()?;
    let shift = match offset.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let (oh, om) = offset[1..].split_once(':')?;
            let s = oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60;
            if sign == '+' { -s } else { s }
        }
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + sec + shift)
}

/// The AGE column: kubectl's short human duration since `created`.
pub fn age(created: Option<&str>) -> String {
    let Some(then) = created.and_then(epoch_seconds) else {
        return "<unknown>".to_string();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    human_duration(now - then)
}

/// kubectl's `HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    let with = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{unit}")
        } else {
            format!("{big}{unit}{small}{small_unit}")
        }
    };
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let days = hours / 24;
    let years = days / 365;
    if seconds < 60 * 2 {
        format!("{seconds}s")
    } else if minutes < 10 {
        with(minutes, "m", seconds % 60, "s")
    } else if minutes < 60 * 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        with(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        with(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        with(years, "y", days % 365, "d")
    } else {
        format!("{years}y")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_as_kubectl_prints_it() {
        let cols = [col("NAME", "name"), col("CPUS", "cpus"), col("AGE", "age")];
        let rows = vec![vec![json!("demo"), json!(2), json!("5m")]];
        assert_eq!(
            render(&cols, &rows),
            "NAME   CPUS   AGE\ndemo   2      5m\n"
        );
    }

    #[test]
    fn times_and_ages() {
        assert_eq!(epoch_seconds("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(epoch_seconds("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(human_duration(59), "59s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(3 * 86_400), "3d");
        assert_eq!(age(None), "<unknown>");
    }
}
