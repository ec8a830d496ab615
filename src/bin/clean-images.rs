fn main() -> std::process::ExitCode {
    kas_infra::tools::clean_images::TOOL.main()
}
