//! `kubectl kas`: see `kas_infra::tools::kas`.

fn main() -> std::process::ExitCode {
    kas_infra::tools::kas::main()
}
