use std::process::ExitCode;

use kas_infra::tools::publish_wheel::{Op, TOOL};

fn main() -> ExitCode {
    TOOL.main_or(Op::Commit)
}
