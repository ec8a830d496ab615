fn main() -> std::process::ExitCode {
    kas_infra::tools::admin_service_account::TOOL.main()
}
