fn main() -> std::process::ExitCode {
    kas_infra::tools::gke_cluster::TOOL.main()
}
