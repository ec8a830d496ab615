fn main() -> std::process::ExitCode {
    kas_infra::tools::gke_allow::TOOL.main()
}
