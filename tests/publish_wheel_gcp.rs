//! `publish-wheel` against an Artifact Registry repository URL, with the
//! real gcloud asking the GCP emulator for the versions already there.
//! (Nothing can be uploaded to the emulator, so the upload is checked as
//! `--dry-run` prints it.)

use kas_emulator as emulator;
use kas_test_support::wheel as wheel_support;

use emulator::gcp::{GcpEmulator, PROJECT, REGION};
use wheel_support::*;

const REPOSITORY: &str = "https://LOCATION-python.pkg.dev/PROJECT/wheels/";

#[test]
fn an_existing_artifact_registry_version_is_refused_before_building() {
    let Some(py) = Python::find() else { return };
    let emu = GcpEmulator::start().unwrap();
    emu.add_repository("wheels", "PYTHON");
    let sb = Sandbox::new("wheel-pep621", &py, REPOSITORY, &["uv", "python3"]);
    sb.wrap(
        "gcloud",
        &which::which("gcloud").expect("the tests need gcloud installed"),
    );
    let version = format!("0.3.1+{}", sb.short_commit());
    emu.add_version("wheels", "attack-simulator", &version, &[]);
    let url = format!("https://{REGION}-python.pkg.dev/{PROJECT}/wheels/");
    let mut env = emu.gcloud_env();
    env.push(sb.path_with_system());

    let status = sb.run(&["="], &env);
    assert_eq!(status.code, 0, "{status}");
    assert!(
        status
            .stdout
            .contains(&format!("{version}: published in {url}")),
        "{status}"
    );

    sb.clear_log();
    emu.clear_log();
    let out = sb.run(&["-v"], &env);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr
            .contains(&format!("attack-simulator {version} is already in {url}")),
        "{out}"
    );
    assert!(out.stderr.contains("nothing was built"), "{out}");
    assert!(
        sb.log().contains(
            "gcloud artifacts versions list --package=attack-simulator --repository=wheels \
         --location=europe-west4 --project=test-project --format=json"
        ),
        "{}",
        sb.log()
    );
    assert_eq!(sb.calls("uv"), 0, "refused before building: {}", sb.log());
    assert_eq!(sb.calls("gcloud"), 1, "{}", sb.log());
    let asked: Vec<String> = emu.api_requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        asked.iter().any(|p| p.contains(&format!(
            "/v1/projects/{PROJECT}/locations/{REGION}/repositories/wheels/packages/attack-simulator/versions"
        ))),
        "{asked:?}"
    );

    // The release version is not there: the plan authenticates with a
    // token from gcloud, passed in the uploader's environment only.
    sb.clear_log();
    let out = sb.run(&["-", "--dry-run"], &env);
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains(&format!(
        "UV_PUBLISH_USERNAME=oauth2accesstoken UV_PUBLISH_PASSWORD=*** uv publish --publish-url {url}"
    )), "{out}");
    assert!(
        sb.log().contains("gcloud auth print-access-token"),
        "{}",
        sb.log()
    );
    // The versions query and the token; the build and upload only printed.
    assert_eq!(sb.calls("gcloud"), 2, "{}", sb.log());
    assert_eq!(sb.calls("uv"), 0, "{}", sb.log());
    let token = gcloud_token(&env);
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    sb.assert_log_free_of(&token);
}

/// The access token gcloud hands out in this configuration.
fn gcloud_token(env: &[(String, String)]) -> String {
    let out = std::process::Command::new("gcloud")
        .args(["auth", "print-access-token", "--quiet"])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.len() > 8, "{token}");
    token
}
