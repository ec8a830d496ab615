//! The operation argument: `=`, `+`, `-` and friends, taken as exact
//! tokens wherever they stand among the options. `--` and `++` would be
//! eaten by an argument parser, so the operation is lifted out of the
//! arguments before clap sees the rest.

use std::ffi::OsString;

/// One operation a tool offers: its symbol, its word aliases, what it does.
pub struct OpSpec<O> {
    pub symbol: &'static str,
    pub words: &'static [&'static str],
    pub op: O,
    pub help: &'static str,
}

/// What lifting the operation out left.
#[derive(Debug, PartialEq)]
pub struct Split<O> {
    pub op: Option<O>,
    /// A second operation, which is a usage error.
    pub second: Option<String>,
    /// The arguments for clap, program name first.
    pub rest: Vec<OsString>,
}

/// Finds the operation among `args` (program name first). `takes_value`
/// says which options consume the next word, so that word is never taken
/// for an operation.
pub fn split_op<O: Copy>(
    table: &[OpSpec<O>],
    args: Vec<OsString>,
    takes_value: impl Fn(&str) -> bool,
) -> Split<O> {
    let mut rest = Vec::with_capacity(args.len());
    let mut op = None;
    let mut second = None;
    let mut skip_next = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || skip_next {
            skip_next = false;
            rest.push(arg);
            continue;
        }
        let text = arg.to_string_lossy().into_owned();
        let spec = table
            .iter()
            .find(|s| s.symbol == text || op.is_none() && s.words.contains(&text.as_str()));
        if let Some(spec) = spec {
            if op.is_none() {
                op = Some(spec.op);
            } else if second.is_none() {
                second = Some(text);
            }
            continue;
        }
        if text.starts_with('-') && !text.contains('=') && takes_value(&text) {
            skip_next = true;
        }
        rest.push(arg);
    }
    Split { op, second, rest }
}

/// The operations as a help section.
pub fn describe<O>(table: &[OpSpec<O>]) -> String {
    let mut out = String::from("Operations:\n");
    for spec in table {
        let words = if spec.words.is_empty() {
            String::new()
        } else {
            format!(" ({})", spec.words.join(", "))
        };
        // A long symbol (a word such as `convert`) keeps the help aligned.
        let head = format!("{:<4}{words}", spec.symbol);
        out.push_str(&format!("  {head:<26} {}\n", spec.help));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Op {
        Status,
        Up,
        Down,
        Replace,
        Lock,
    }

    const OPS: &[OpSpec<Op>] = &[
        OpSpec {
            symbol: "=",
            words: &["status"],
            op: Op::Status,
            help: "",
        },
        OpSpec {
            symbol: "+",
            words: &["up"],
            op: Op::Up,
            help: "",
        },
        OpSpec {
            symbol: "-",
            words: &["down"],
            op: Op::Down,
            help: "",
        },
        OpSpec {
            symbol: "++",
            words: &["replace"],
            op: Op::Replace,
            help: "",
        },
        OpSpec {
            symbol: "--",
            words: &["lock"],
            op: Op::Lock,
            help: "",
        },
    ];

    fn split(words: &[&str]) -> Split<Op> {
        let args = words.iter().map(OsString::from).collect();
        split_op(OPS, args, |o| o == "--cidr")
    }

    fn rest(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn double_dash_and_double_plus_are_operations() {
        assert_eq!(split(&["t", "--"]).op, Some(Op::Lock));
        assert_eq!(split(&["t", "++"]).op, Some(Op::Replace));
    }

    #[test]
    fn options_before_or_after() {
        let a = split(&["t", "--dry-run", "-", "--cidr", "1.2.3.4/32"]);
        assert_eq!(a.op, Some(Op::Down));
        assert_eq!(a.rest, rest(&["t", "--dry-run", "--cidr", "1.2.3.4/32"]));
        let b = split(&["t", "--cidr", "1.2.3.4/32", "status"]);
        assert_eq!(b.op, Some(Op::Status));
    }

    #[test]
    fn an_option_value_is_not_an_operation() {
        let a = split(&["t", "--cidr", "up", "+"]);
        assert_eq!(a.op, Some(Op::Up));
        assert_eq!(a.rest, rest(&["t", "--cidr", "up"]));
    }

    #[test]
    fn unknown_words_stay_for_clap_to_refuse() {
        let a = split(&["t", "sideways"]);
        assert_eq!(a.op, None);
        assert_eq!(a.rest, rest(&["t", "sideways"]));
    }

    #[test]
    fn a_second_operation_is_noticed() {
        let a = split(&["t", "+", "--"]);
        assert_eq!(a.op, Some(Op::Up));
        assert_eq!(a.second.as_deref(), Some("--"));
    }
}

/// The operations the `=`/`+`/`-` tools share; each tool lists the ones it
/// offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Status,
    /// `+`
    Up,
    /// `-`
    Down,
    /// `,`
    Refresh,
    /// `==`
    Status2,
    /// `++`
    Up2,
    /// `--`
    Down2,
    /// `env`
    Env,
}

pub const STATUS: OpSpec<Op> = OpSpec {
    symbol: "=",
    words: &["status"],
    op: Op::Status,
    help: "show each piece; exit 0 when present, 1 when not",
};

pub const UP: OpSpec<Op> = OpSpec {
    symbol: "+",
    words: &["up", "start"],
    op: Op::Up,
    help: "create what is missing (a rerun finishes an interrupted run)",
};

pub const DOWN: OpSpec<Op> = OpSpec {
    symbol: "-",
    words: &["down", "stop"],
    op: Op::Down,
    help: "delete what is there, in reverse order",
};

pub const REFRESH: OpSpec<Op> = OpSpec {
    symbol: ",",
    words: &["refresh", "credentials"],
    op: Op::Refresh,
    help: "refresh the kubeconfig credentials only",
};

pub const UP2: OpSpec<Op> = OpSpec {
    symbol: "++",
    words: &["only"],
    op: Op::Up2,
    help: "replace the whole list by your network alone",
};

pub const DOWN2: OpSpec<Op> = OpSpec {
    symbol: "--",
    words: &["lock"],
    op: Op::Down2,
    help: "keep authorized networks on with an empty list: nobody reaches the API",
};

pub const ENV: OpSpec<Op> = OpSpec {
    symbol: "env",
    words: &[],
    op: Op::Env,
    help: "print `export` lines for eval (KEYFILE, GOOGLE_APPLICATION_CREDENTIALS)",
};
