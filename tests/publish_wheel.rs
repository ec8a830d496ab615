//! `publish-wheel` end to end: the real binary, real git, the real build
//! and upload tools (uv, python -m build, poetry, twine) and a real package
//! index (pypiserver with a password), on copies of the fixture projects
//! under tests/fixtures/.
//!
//! Every tool the binary may run is reached through a wrapper script first
//! on its PATH that logs its command line, so the tests can count the
//! subprocesses and check that no command line holds a password.
//!
//! Needs the virtual environment that `.ci/setup-python.sh` makes
//! (KAS_TEST_PYTHON_BIN) and its wheelhouse (KAS_TEST_WHEELHOUSE, the build
//! backend for the isolated builds, so no test reaches past 127.0.0.1).

use kas_test_support::wheel as wheel_support;

use std::fs;

use wheel_support::*;

#[test]
fn pep621_project_with_uv_publishes_commit_then_release_and_refuses_repeats() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let sb = Sandbox::new("wheel-pep621", &py, &index.url(), &["uv", "python3"]);
    let before = sb.snapshot();
    let short = sb.short_commit();
    let version = format!("0.3.1+{short}");
    let creds = index.uv_env();

    let status = sb.run(&["="], &creds);
    assert_eq!(status.code, 1, "not published yet: {status}");
    assert!(status.stdout.contains(&format!("{version}: not published")));

    sb.clear_log();
    let out = sb.run(&["--verbose"], &creds);
    assert_eq!(out.code, 0, "{out}");
    let wheel = format!("attack_simulator-{version}-py3-none-any.whl");
    assert_eq!(index.files(), vec![wheel.clone()]);
    assert_eq!(sb.recorded_version(), format!("{version}\n"));
    // git: rev-parse, status, ls-files; curl: the versions query; uv:
    // build and publish. Nothing else.
    assert_eq!(sb.calls("git"), 3, "{}", sb.log());
    assert_eq!(sb.calls("curl"), 1, "{}", sb.log());
    assert_eq!(sb.calls("uv"), 2, "{}", sb.log());
    assert!(
        sb.log().contains("uv publish --publish-url"),
        "{}",
        sb.log()
    );
    assert!(!out.stderr.contains(&index.password), "{}", out.stderr);
    assert!(
        out.stderr.contains("UV_PUBLISH_PASSWORD=***"),
        "{}",
        out.stderr
    );

    let got = index.pip_download(&py, &format!("attack-simulator==={version}"));
    assert_eq!(got, vec![wheel]);

    let status = sb.run(&["status"], &creds);
    assert_eq!(status.code, 0, "published now: {status}");

    let out = sb.run(&["-"], &creds);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        index
            .files()
            .contains(&"attack_simulator-0.3.1-py3-none-any.whl".to_string())
    );
    assert_eq!(sb.recorded_version(), "0.3.1\n");

    for args in [&[][..], &["-"][..]] {
        sb.clear_log();
        let out = sb.run(args, &creds);
        assert_eq!(out.code, 3, "{out}");
        assert!(out.stderr.contains("is already in"), "{}", out.stderr);
        assert!(out.stderr.contains("nothing was built"), "{}", out.stderr);
        assert_eq!(sb.calls("uv"), 0, "refused before building: {}", sb.log());
    }
    assert_eq!(index.files().len(), 2);

    assert_eq!(sb.snapshot(), before, "the user's files changed");
    assert_eq!(sb.git_status(), "");
    sb.assert_log_free_of(&index.password);
}

#[test]
fn poetry_project_with_poetry_and_twine() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let sb = Sandbox::new("wheel-poetry", &py, &index.url(), &["poetry", "twine"]);
    let before = sb.snapshot();
    let version = format!("1.0.0+{}", sb.short_commit());
    let creds = index.twine_env();

    let out = sb.run(&["+", "-v"], &creds);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        index.files(),
        vec![format!("attack_simulator-{version}-py3-none-any.whl")]
    );
    assert!(
        sb.log()
            .contains("poetry build --no-interaction --format wheel")
    );
    assert!(sb.log().contains("twine upload --non-interactive"));
    assert!(out.stderr.contains("TWINE_PASSWORD=***"), "{}", out.stderr);
    assert_eq!(sb.recorded_version(), format!("{version}\n"));

    let out = sb.run(&["release", "--output", "json"], &creds);
    assert_eq!(out.code, 0, "{out}");
    let published: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(published["version"], "1.0.0");
    assert_eq!(
        published["wheel"],
        "attack_simulator-1.0.0-py3-none-any.whl"
    );
    assert_eq!(published["repository"], index.url().as_str());
    assert!(
        published["recorded_in"]
            .as_str()
            .unwrap()
            .ends_with("kas/attack-simulator-version")
    );
    let got = index.pip_download(&py, "attack-simulator===1.0.0");
    assert_eq!(got, vec!["attack_simulator-1.0.0-py3-none-any.whl"]);

    sb.clear_log();
    let out = sb.run(&["-"], &creds);
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("attack-simulator 1.0.0 is already in"));
    assert_eq!(sb.calls("poetry"), 0, "{}", sb.log());

    assert_eq!(sb.snapshot(), before, "the user's files changed");
    assert_eq!(sb.git_status(), "");
    sb.assert_log_free_of(&index.password);
}

#[test]
fn python_build_and_twine_and_a_dirty_tree() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let sb = Sandbox::new("wheel-pep621", &py, &index.url(), &["python3", "twine"]);
    // uv's variables reach twine as TWINE_USERNAME / TWINE_PASSWORD.
    let creds = index.uv_env();

    // A change in the user's tree: refused, and nothing but git ran.
    let edited = "# edited by the user\n";
    fs::write(sb.proj.join("NOTES.txt"), edited).unwrap();
    let before = sb.snapshot();
    sb.clear_log();
    let out = sb.run(&[], &creds);
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("uncommitted changes"), "{}", out.stderr);
    assert!(out.stderr.contains("?? NOTES.txt"), "{}", out.stderr);
    assert!(out.stderr.contains("--allow-dirty"), "{}", out.stderr);
    assert_eq!(sb.calls("git"), 2, "{}", sb.log());
    assert_eq!(sb.log().lines().count(), 2, "{}", sb.log());
    assert!(index.files().is_empty());

    let out = sb.run(&["--allow-dirty"], &creds);
    assert_eq!(out.code, 0, "{out}");
    let version = format!("0.3.1+{}.dirty", sb.short_commit());
    assert_eq!(
        index.files(),
        vec![format!("attack_simulator-{version}-py3-none-any.whl")]
    );
    assert!(sb.log().contains("python3 -m build --wheel --outdir"));
    assert!(sb.log().contains("twine upload --non-interactive"));
    assert_eq!(sb.snapshot(), before, "the user's files changed");
    sb.assert_log_free_of(&index.password);
}

#[test]
fn dry_run_shows_version_files_and_commands_and_changes_nothing() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let sb = Sandbox::new("wheel-pep621", &py, &index.url(), &["uv", "python3"]);
    let version = format!("0.3.1+{}", sb.short_commit());
    let out = sb.run(&["--dry-run"], &index.uv_env());
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains(&format!(
            "publishing attack-simulator {version} to {}",
            index.url()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("# copy the 2 files of"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&format!("set version = \"{version}\"")));
    assert!(out.stdout.contains("uv build --wheel --out-dir"));
    assert!(out.stdout.contains(&format!(
        "UV_PUBLISH_USERNAME=uploader UV_PUBLISH_PASSWORD=*** uv publish --publish-url {}",
        index.url()
    )));
    assert!(
        out.stdout
            .contains(&format!("attack_simulator-{version}-*.whl"))
    );
    assert!(out.stdout.contains(&format!("# record {version} in")));
    // Queries ran (git and the index), nothing was built or sent.
    assert_eq!(sb.calls("uv"), 0, "{}", sb.log());
    assert_eq!(sb.calls("curl"), 1, "{}", sb.log());
    assert!(index.files().is_empty());
    assert!(!sb.state.join("kas").exists());
    assert!(!out.stdout.contains(&index.password));
}

#[test]
fn a_missing_build_tool_is_a_clear_error() {
    // No index is needed: tools are looked for before anything runs.
    let sb = Sandbox::bare("wheel-pep621");
    let out = sb.run(&[], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("no wheel build tool found on PATH")
            && out.stderr.contains("install uv"),
        "{}",
        out.stderr
    );
    assert_eq!(sb.calls("curl"), 0, "{}", sb.log());
    assert!(!sb.state.join("kas").exists());
}

#[test]
fn a_missing_upload_tool_is_a_clear_error() {
    let Some(py) = Python::find() else { return };
    let sb = Sandbox::new("wheel-poetry", &py, "http://127.0.0.1:9/", &["poetry"]);
    let out = sb.run(&[], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr
            .contains("no wheel upload tool found on PATH: install uv or twine"),
        "{}",
        out.stderr
    );
    assert_eq!(sb.calls("poetry"), 0, "{}", sb.log());
}

#[test]
fn a_missing_pyproject_is_a_clear_error() {
    let sb = Sandbox::bare("wheel-pep621");
    sb.git(&["rm", "-q", "pyproject.toml"]);
    sb.git(&["commit", "-q", "-m", "no pyproject"]);
    let out = sb.run(&[], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("no pyproject.toml in") && out.stderr.contains("--project-dir"),
        "{}",
        out.stderr
    );
}

#[test]
fn outside_git_and_bad_arguments_are_clear_errors() {
    let sb = Sandbox::bare("wheel-pep621");
    let outside = tempfile::tempdir().unwrap();
    let out = sb.run_in(outside.path(), &[], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("is not in a git work tree"),
        "{}",
        out.stderr
    );

    let out = sb.run(&["+", "-"], &[]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("one operation at a time"),
        "{}",
        out.stderr
    );

    let out = sb.run(&["--repository", "wheels", "="], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("is not a URL"), "{}", out.stderr);
}

#[test]
fn a_package_name_other_than_configured_is_refused() {
    let sb = Sandbox::bare("wheel-pep621");
    fs::write(
        sb.root.path().join("kas.yaml"),
        "wheel:\n  package: other-package\n  repository: http://127.0.0.1:9/\n",
    )
    .unwrap();
    let out = sb.run(&["="], &[]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr
            .contains("wheel.package in kas.yaml is `other-package`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_project_in_a_subfolder_of_the_repository() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let sb = Sandbox::new("wheel-poetry", &py, &index.url(), &["poetry", "twine"]);
    fs::create_dir(sb.proj.join("python")).unwrap();
    sb.git(&["mv", "pyproject.toml", "attack_simulator", "python/"]);
    fs::write(sb.proj.join("README.md"), "the repository's own file\n").unwrap();
    sb.git(&["add", "README.md"]);
    sb.git(&["commit", "-q", "-m", "move the package"]);
    let before = sb.snapshot();

    // From the repository's top, naming the folder.
    let out = sb.run(&["-", "--project-dir", "python"], &index.twine_env());
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        index.files(),
        vec!["attack_simulator-1.0.0-py3-none-any.whl"]
    );

    // From inside the package, found by walking up.
    let inside = sb.proj.join("python/attack_simulator");
    let out = sb.run_in(&inside, &["="], &index.twine_env());
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains(&format!("1.0.0+{}", sb.short_commit())));
    assert_eq!(sb.snapshot(), before, "the user's files changed");
}

#[test]
fn an_api_token_works_with_either_uploader() {
    let Some(py) = Python::find() else { return };
    // PyPI-like indexes take a token as the password of `__token__`.
    let index = Index::start_for(&py, "__token__");
    let token = vec![("UV_PUBLISH_TOKEN".to_string(), index.password.clone())];

    let sb = Sandbox::new("wheel-pep621", &py, &index.url(), &["uv", "python3"]);
    let out = sb.run(&[], &token);
    assert_eq!(out.code, 0, "{out}");
    sb.assert_log_free_of(&index.password);

    let sb = Sandbox::new("wheel-poetry", &py, &index.url(), &["poetry", "twine"]);
    let out = sb.run(&["-v"], &token);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("TWINE_USERNAME=__token__ TWINE_PASSWORD=***")
    );
    sb.assert_log_free_of(&index.password);
    assert_eq!(index.files().len(), 2, "{:?}", index.files());
}

#[test]
fn an_open_index_takes_a_wheel_with_no_variables_set_from_either_uploader() {
    let Some(py) = Python::find() else { return };
    let index = Index::start_open(&py);
    for (fixture, tools) in [
        ("wheel-pep621", &["uv", "python3"][..]),
        ("wheel-poetry", &["poetry", "twine"][..]),
    ] {
        let sb = Sandbox::new(fixture, &py, &index.url(), tools);
        let out = sb.run(&["--verbose"], &[]);
        assert_eq!(out.code, 0, "{fixture}: {out}");
        assert!(
            !out.stderr.to_lowercase().contains("trusted publishing"),
            "{fixture}: {out}"
        );
        if tools[0] == "uv" {
            assert!(
                sb.log().contains("--trusted-publishing never"),
                "{}",
                sb.log()
            );
        }
    }
    assert_eq!(index.files().len(), 2, "{:?}", index.files());
}

#[test]
fn a_wrong_password_is_named_as_refused_and_the_uploaders_reason_is_shown() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    let wrong = "not-the-password-7781";
    for (tools, user_var, password_var) in [
        (
            &["uv", "python3"][..],
            "UV_PUBLISH_USERNAME",
            "UV_PUBLISH_PASSWORD",
        ),
        (&["poetry", "twine"][..], "TWINE_USERNAME", "TWINE_PASSWORD"),
    ] {
        let fixture = if tools[0] == "uv" {
            "wheel-pep621"
        } else {
            "wheel-poetry"
        };
        let sb = Sandbox::new(fixture, &py, &index.url(), tools);
        let before = sb.snapshot();
        let env = [
            (user_var.to_string(), index.user.clone()),
            (password_var.to_string(), wrong.to_string()),
        ];
        let out = sb.run(&[], &env);
        assert_eq!(out.code, 3, "{out}");
        assert!(
            out.stderr.contains(&format!(
                "refused the credentials from {user_var} and {password_var} (user uploader): check them"
            )),
            "{out}"
        );
        assert!(!out.stderr.contains("set UV_PUBLISH_USERNAME"), "{out}");
        assert!(
            !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
            "{out}"
        );
        sb.assert_log_free_of(wrong);
        assert_eq!(sb.snapshot(), before);
        assert!(!sb.state.join("kas").exists(), "a version was recorded");

        // No credentials at all: say which to set.
        let out = sb.run(&[], &[]);
        assert_eq!(out.code, 3, "{out}");
        assert!(
            out.stderr
                .contains("the index wants credentials: set UV_PUBLISH_USERNAME"),
            "{out}"
        );
    }
    assert!(index.files().is_empty());
}

/// The upload itself refused (the listing passes): the uploader's own
/// words, from its standard output for twine, come through.
#[test]
fn a_refused_upload_passes_the_uploaders_explanation_through() {
    let Some(py) = Python::find() else { return };
    let index = Index::start(&py);
    for tools in [&["uv", "python3"][..], &["poetry", "twine"][..]] {
        let fixture = if tools[0] == "uv" {
            "wheel-pep621"
        } else {
            "wheel-poetry"
        };
        let sb = Sandbox::new(fixture, &py, &index.url(), tools);
        // The listing goes through curl with the right account; the
        // uploader gets a wrong password through its own wrapper.
        let uploader = if tools[0] == "uv" { "uv" } else { "twine" };
        let var = if uploader == "uv" {
            "UV_PUBLISH_PASSWORD"
        } else {
            "TWINE_PASSWORD"
        };
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = publish ] || [ \"$1\" = upload ]; then export {var}=wrong-one; fi\nexec '{}' \"$@\"\n",
            py.bin.join(uploader).display()
        );
        let wrapper = sb.root.path().join("bin").join(uploader);
        std::fs::write(&wrapper, script).unwrap();
        let env = if uploader == "uv" {
            index.uv_env()
        } else {
            index.twine_env()
        };
        let out = sb.run(&[], &env);
        assert_eq!(out.code, 3, "{out}");
        assert!(out.stderr.contains("the upload to"), "{out}");
        assert!(
            out.stderr.contains("403") || out.stderr.contains("401"),
            "the uploader's reason is missing: {out}"
        );
        assert!(out.stderr.contains("refused the credentials"), "{out}");
        assert!(!out.stderr.contains(&index.password), "{out}");
        eprintln!("{out}");
    }
    assert!(index.files().is_empty());
}
