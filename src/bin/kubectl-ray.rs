//! `kubectl ray`: see `kas_infra::tools::kubectl_ray`.

fn main() -> std::process::ExitCode {
    kas_infra::tools::kubectl_ray::main()
}
