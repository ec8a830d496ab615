fn main() -> std::process::ExitCode {
    kas_infra::tools::artifact_registry::TOOL.main()
}
