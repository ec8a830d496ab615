//! `kubectl_complete-kas`: kubectl runs it to complete `kubectl kas`'s
//! words; see `kas_infra::tools::kas::complete`.

fn main() -> std::process::ExitCode {
    kas_infra::tools::kas::complete::main()
}
