//! `kubectl_complete-ray`: kubectl runs it to complete `kubectl ray`'s
//! words; see `kas_infra::tools::kubectl_ray::complete`.

fn main() -> std::process::ExitCode {
    kas_infra::tools::kubectl_ray::complete::main()
}
