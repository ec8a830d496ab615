//! How the binaries are installed and described: `--version`, the man
//! pages (rendered by groff and man), the shell completion scripts (run by
//! bash and fish), and the release archives with the krew manifests, built
//! by scripts/release-archives.sh from this test build and checked with
//! krew's rules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kas_infra::app::grammar::OpSpec;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every installed binary but the completion executables (kubectl runs
/// those with the words typed so far, `--version` included).
const BINARIES: [(&str, &str); 10] = [
    (
        "admin-service-account",
        env!("CARGO_BIN_EXE_admin-service-account"),
    ),
    ("artifact-registry", env!("CARGO_BIN_EXE_artifact-registry")),
    ("clean-images", env!("CARGO_BIN_EXE_clean-images")),
    ("gke-allow", env!("CARGO_BIN_EXE_gke-allow")),
    ("gke-cluster", env!("CARGO_BIN_EXE_gke-cluster")),
    ("gke-nat", env!("CARGO_BIN_EXE_gke-nat")),
    ("kubectl-kas", env!("CARGO_BIN_EXE_kubectl-kas")),
    ("kubectl-ray", env!("CARGO_BIN_EXE_kubectl-ray")),
    ("publish-wheel", env!("CARGO_BIN_EXE_publish-wheel")),
    (
        "ray-service-account",
        env!("CARGO_BIN_EXE_ray-service-account"),
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `program` is on PATH; outside CI a missing one skips the
/// caller with a note, in CI it fails.
fn have(program: &str, install: &str) -> bool {
    if which::which(program).is_ok() {
        return true;
    }
    let message = format!("{program} is not installed ({install}; `source .ci/setup-docs.sh`)");
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    false
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap();
    eprintln!(
        "$ {program} {} -> {:?}\n{}{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(2000)
            .collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_binary_prints_its_name_and_the_cargo_version() {
    for (name, bin) in BINARIES {
        for flag in ["--version", "-V"] {
            let out = run(bin, &[flag]);
            assert_eq!(out.status.code(), Some(0), "{name} {flag}");
            let line = text(&out.stdout);
            assert!(
                line.starts_with(&format!("{name} {VERSION}")),
                "{name} {flag}: {line}"
            );
        }
    }
}

#[test]
fn every_man_page_renders_without_warnings() {
    if !have("groff", "groff-base") || !have("man", "man-db") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, bin) in BINARIES {
        let out = run(bin, &["--man"]);
        assert_eq!(out.status.code(), Some(0), "{name} --man");
        let page = dir.path().join(format!("{name}.1"));
        std::fs::write(&page, &out.stdout).unwrap();
        let roff = text(&out.stdout);
        assert!(roff.contains(&format!(".TH {name} 1")), "{name}: {roff}");
        assert!(roff.contains(".SH \"EXAMPLES\""), "{name}: no examples");
        // -ww: every warning; -z: no output, only the diagnostics.
        let out = run(
            "groff",
            &["-man", "-Tutf8", "-ww", "-z", page.to_str().unwrap()],
        );
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: groff warned"
        );
        let out = Command::new("man")
            .args(["--warnings", "-l", page.to_str().unwrap()])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let shown = text(&out.stdout);
        assert!(out.status.success(), "man -l {name}: {}", text(&out.stderr));
        assert!(
            out.stderr.is_empty(),
            "man -l {name} warned: {}",
            text(&out.stderr)
        );
        assert!(
            shown.contains("SYNOPSIS") && shown.contains("EXAMPLES"),
            "{shown}"
        );
        let usage = name.replacen("kubectl-", "kubectl ", 1);
        assert!(
            shown.contains(&usage),
            "{name}: the usage as typed: {shown}"
        );
    }
}

/// The tools run directly, with their operations.
fn direct_tools() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    fn symbols<O>(ops: &[OpSpec<O>]) -> Vec<&'static str> {
        ops.iter().map(|s| s.symbol).collect()
    }
    use kas_infra::tools::*;
    vec![
        (
            "admin-service-account",
            BINARIES[0].1,
            symbols(admin_service_account::OPS),
        ),
        (
            "artifact-registry",
            BINARIES[1].1,
            symbols(artifact_registry::OPS),
        ),
        ("clean-images", BINARIES[2].1, symbols(clean_images::OPS)),
        ("gke-allow", BINARIES[3].1, symbols(gke_allow::OPS)),
        ("gke-cluster", BINARIES[4].1, symbols(gke_cluster::OPS)),
        ("gke-nat", BINARIES[5].1, symbols(gke_nat::OPS)),
        ("publish-wheel", BINARIES[8].1, symbols(publish_wheel::OPS)),
        (
            "ray-service-account",
            BINARIES[9].1,
            symbols(ray_service_account::OPS),
        ),
    ]
}

/// Loads the generated script into bash, finds the function `complete -p`
/// names and calls it as bash's completion would for `NAME WORDS... CUR`;
/// the candidates, one per line.
fn bash_candidates(script: &Path, name: &str, words: &[&str]) -> Vec<String> {
    let driver = r#"
        source "$1"; name="$2"; shift 2
        spec="$(complete -p "$name")" || exit 9
        func="${spec##*-F }"; func="${func%% *}"
        COMP_WORDS=("$name" "$@"); COMP_CWORD=$#
        COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
        cur="${COMP_WORDS[COMP_CWORD]}"; prev="${COMP_WORDS[COMP_CWORD-1]}"
        "$func" "$name" "$cur" "$prev"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let mut args = vec!["-c", driver, "bash", script.to_str().unwrap(), name];
    args.extend(words);
    let out = run("bash", &args);
    assert!(out.status.success(), "bash completion of {name} failed");
    text(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_offers_every_operation_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bin, symbols) in direct_tools() {
        let out = run(bin, &["completion", "bash"]);
        assert_eq!(out.status.code(), Some(0), "{name} completion bash");
        let script = dir.path().join(format!("{name}.bash"));
        std::fs::write(&script, &out.stdout).unwrap();
        let offered = bash_candidates(&script, name, &[""]);
        for symbol in &symbols {
            assert!(
                offered.contains(&symbol.to_string()),
                "{name}: {symbol} in {offered:?}"
            );
        }
        assert!(offered.contains(&"--dry-run".to_string()), "{name}");
    }
    let script = dir.path().join("gke-allow.bash");
    let set = |words: &[&str]| -> BTreeSet<String> {
        bash_candidates(&script, "gke-allow", words)
            .into_iter()
            .collect()
    };
    for op in ["+", "-", "=", "++", "--"] {
        assert!(set(&[""]).contains(op), "gke-allow: {op}");
    }
    assert_eq!(
        set(&["+"]),
        BTreeSet::from(["+".to_string(), "++".to_string()])
    );
    let dashes = set(&["-"]);
    assert!(dashes.contains("-") && dashes.contains("--") && dashes.contains("--cidr"));
    assert_eq!(
        set(&["-o", ""]),
        BTreeSet::from(["text".to_string(), "json".to_string()])
    );
    let out = run(BINARIES[3].1, &["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use bash, zsh or fish"));
}

#[test]
fn zsh_and_fish_load_their_scripts_and_fish_offers_the_operations() {
    if !have("zsh", "zsh") || !have("fish", "fish") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = BINARIES[3].1;
    let zsh = dir.path().join("_gke-allow");
    std::fs::write(&zsh, run(bin, &["completion", "zsh"]).stdout).unwrap();
    // The script defines the completion function when loaded after compinit.
    let out = run(
        "zsh",
        &[
            "-f",
            "-c",
            &format!(
                "autoload -U compinit && compinit -u -D && source {} && whence -w _gke-allow",
                zsh.display()
            ),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("function"),
        "{}",
        text(&out.stdout)
    );
    let fish = dir.path().join("gke-allow.fish");
    std::fs::write(&fish, run(bin, &["completion", "fish"]).stdout).unwrap();
    let out = run(
        "fish",
        &[
            "--no-config",
            "-c",
            &format!("source {}; complete -C 'gke-allow '", fish.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let offered: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    for op in ["+", "-", "=", "++", "--", "status"] {
        assert!(
            offered.contains(&op.to_string()),
            "fish: {op} in {offered:?}"
        );
    }
}

fn sha256(path: &Path) -> String {
    let out = run("sha256sum", &[path.to_str().unwrap()]);
    assert!(out.status.success());
    text(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn tar_list(archive: &Path) -> Vec<String> {
    let out = run("tar", &["-tzf", archive.to_str().unwrap()]);
    assert!(out.status.success());
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// krew's names for this machine.
fn this_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

fn script(args: &[&str]) -> Output {
    let out = Command::new(root().join("scripts/release-archives.sh"))
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "$ release-archives.sh {} -> {:?}\n{}{}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Checks one manifest against krew's rules and the archives in `out`;
/// returns the platforms left unbuilt.
fn check_manifest(path: &Path, out: &Path, base_url: &str) -> Vec<String> {
    let plugin = path.file_stem().unwrap().to_str().unwrap();
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        doc["apiVersion"].as_str(),
        Some("krew.googlecontainertools.github.com/v1alpha2")
    );
    assert_eq!(doc["kind"].as_str(), Some("Plugin"));
    assert_eq!(
        doc["metadata"]["name"].as_str(),
        Some(plugin),
        "name = file name"
    );
    let spec = &doc["spec"];
    let version = format!("v{VERSION}");
    assert_eq!(spec["version"].as_str(), Some(version.as_str()));
    let short = spec["shortDescription"].as_str().unwrap();
    assert!(!short.is_empty() && !short.contains('\n'), "{short}");
    assert!(spec["description"].as_str().is_some_and(|d| d.len() > 50));
    let caveats = spec["caveats"].as_str().unwrap();
    assert!(
        caveats.contains(&format!("kubectl_complete-{plugin}")),
        "{caveats}"
    );
    if plugin == "ray" {
        assert!(caveats.contains("overshadows") && caveats.contains("superset"));
    }
    assert_eq!(
        spec["homepage"].as_str(),
        Some("https://example.org/kas-infra")
    );
    let mut seen = BTreeSet::new();
    let mut unbuilt = Vec::new();
    let bin = format!("kubectl-{plugin}");
    for platform in spec["platforms"].as_sequence().unwrap() {
        let selector = platform["selector"].as_mapping().unwrap();
        assert_eq!(selector.len(), 1, "only matchLabels: {selector:?}");
        let labels = platform["selector"]["matchLabels"].as_mapping().unwrap();
        let keys: BTreeSet<&str> = labels.keys().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["arch", "os"]),
            "selectors only os/arch"
        );
        let os = labels["os"].as_str().unwrap();
        let arch = labels["arch"].as_str().unwrap();
        seen.insert(format!("{os}/{arch}"));
        assert_eq!(platform["bin"].as_str(), Some(bin.as_str()));
        let archive_name = format!("kubectl-{plugin}-{version}-{os}-{arch}.tar.gz");
        assert_eq!(
            platform["uri"].as_str().unwrap(),
            format!("{base_url}/{version}/{archive_name}")
        );
        let sum = platform["sha256"].as_str().unwrap();
        let hex = sum.len() == 64
            && sum
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        if !hex {
            assert!(sum.starts_with("UNBUILT"), "a placeholder says so: {sum}");
            assert_ne!((os, arch), this_platform(), "this platform is always built");
            unbuilt.push(format!("{os}/{arch}"));
            continue;
        }
        let archive = out.join(&archive_name);
        assert_eq!(sha256(&archive), sum, "{archive_name}");
        let members: BTreeSet<String> = tar_list(&archive).into_iter().collect();
        for file in platform["files"].as_sequence().unwrap() {
            let from = file["from"].as_str().unwrap();
            assert!(members.contains(from), "{from} in {members:?}");
        }
        for needed in [
            bin.clone(),
            "LICENSE".into(),
            format!("kubectl_complete-{plugin}"),
            format!("kubectl-{plugin}.1"),
        ] {
            assert!(members.contains(&needed), "{needed} in {archive_name}");
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(
            ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"].map(String::from)
        )
    );
    unbuilt
}

#[test]
fn release_archives_and_krew_manifests() {
    if !have("sha256sum", "coreutils") || !have("tar", "tar") || !have("gzip", "gzip") {
        return;
    }
    let work_tree: Vec<String> = ["ray", "kas"]
        .iter()
        .map(|p| std::fs::read_to_string(root().join(format!("plugins/{p}.yaml"))).unwrap())
        .collect();
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("out");
    let manifests = temp.path().join("plugins");
    let bins = Path::new(env!("CARGO_BIN_EXE_kubectl-ray"))
        .parent()
        .unwrap();
    let base_url = "https://downloads.example.org/kas-infra";
    let o = |p: &Path| p.to_str().unwrap().to_string();
    let built = script(&[
        "--out",
        &o(&out),
        "--manifests",
        &o(&manifests),
        "--bin-dir",
        &o(bins),
        "--base-url",
        base_url,
        "--homepage",
        "https://example.org/kas-infra",
    ]);
    assert_eq!(built.status.code(), Some(0));

    // The work tree's manifests are left as they were.
    for (plugin, before) in ["ray", "kas"].iter().zip(&work_tree) {
        let now = std::fs::read_to_string(root().join(format!("plugins/{plugin}.yaml"))).unwrap();
        assert_eq!(&now, before, "plugins/{plugin}.yaml changed");
    }

    let mut unbuilt = Vec::new();
    for plugin in ["ray", "kas"] {
        unbuilt.extend(check_manifest(
            &manifests.join(format!("{plugin}.yaml")),
            &out,
            base_url,
        ));
    }

    // This platform's archive works once unpacked.
    let (os, arch) = this_platform();
    let unpacked = temp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let archive = out.join(format!("kubectl-ray-v{VERSION}-{os}-{arch}.tar.gz"));
    let status = run(
        "tar",
        &[
            "-xzf",
            archive.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ],
    );
    assert!(status.status.success());
    let version = run(
        unpacked.join("kubectl-ray").to_str().unwrap(),
        &["--version"],
    );
    assert_eq!(version.status.code(), Some(0));
    assert!(text(&version.stdout).starts_with(&format!("kubectl-ray {VERSION}")));
    let license = std::fs::read_to_string(unpacked.join("LICENSE")).unwrap();
    assert!(license.starts_with("MIT License"));
    assert_eq!(
        license,
        std::fs::read_to_string(root().join("LICENSE")).unwrap()
    );

    // The GCP tools' archive: binaries, man pages, completion scripts.
    let tools = out.join(format!("kas-infra-v{VERSION}-{os}-{arch}.tar.gz"));
    let members: BTreeSet<String> = tar_list(&tools).into_iter().collect();
    for member in [
        "bin/gke-allow",
        "bin/publish-wheel",
        "share/man/man1/gke-allow.1",
        "share/bash-completion/completions/gke-allow",
        "share/zsh/site-functions/_gke-allow",
        "share/fish/vendor_completions.d/gke-allow.fish",
        "LICENSE",
    ] {
        assert!(members.contains(member), "{member} in {members:?}");
    }

    // --check refuses what is not ready and names it...
    let check = |dir: &Path| script(&["--check", "--out", &o(&out), "--manifests", &o(dir)]);
    let checked = check(&manifests);
    if unbuilt.is_empty() {
        assert_eq!(checked.status.code(), Some(0));
    } else {
        assert_eq!(checked.status.code(), Some(1));
        let err = text(&checked.stderr);
        for platform in &unbuilt {
            assert!(
                err.contains(&format!("{platform}: sha256 is a placeholder")),
                "{err}"
            );
        }
    }
    // ...and accepts the built platforms alone, until an archive changes.
    let ready = temp.path().join("ready");
    std::fs::create_dir_all(&ready).unwrap();
    for plugin in ["ray", "kas"] {
        let text = std::fs::read_to_string(manifests.join(format!("{plugin}.yaml"))).unwrap();
        let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let platforms = doc["spec"]["platforms"].as_sequence_mut().unwrap();
        platforms.retain(|p| !p["sha256"].as_str().unwrap().starts_with("UNBUILT"));
        std::fs::write(
            ready.join(format!("{plugin}.yaml")),
            serde_yaml::to_string(&doc).unwrap(),
        )
        .unwrap();
    }
    let checked = check(&ready);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert!(text(&checked.stdout).contains("ready for release"));
    let placeholder = std::fs::read_to_string(root().join("plugins/ray.yaml")).unwrap();
    assert!(
        placeholder.contains("releases.invalid"),
        "the work tree keeps its placeholder uri"
    );
    let work = temp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for plugin in ["ray", "kas"] {
        std::fs::copy(
            root().join(format!("plugins/{plugin}.yaml")),
            work.join(format!("{plugin}.yaml")),
        )
        .unwrap();
    }
    let err = text(&check(&work).stderr);
    assert!(err.contains("uri is the placeholder") && err.contains("homepage is the placeholder"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let err = text(&check(&ready).stderr);
    assert!(
        err.contains(&format!("{os}/{arch}: sha256 differs")),
        "{err}"
    );
}
