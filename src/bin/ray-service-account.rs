fn main() -> std::process::ExitCode {
    kas_infra::tools::ray_service_account::TOOL.main()
}
