//! `admin-service-account`: an administrator service account with a key
//! file, and the gcloud configuration that uses it. Needs a person with
//! Project IAM Admin rights for `+` and `-`.
//!
//! Pieces are ordered so that a later one being there vouches for the
//! earlier ones: once the service account is activated from its key, the
//! steps that needed the person's login (APIs, account, key, roles) are
//! done, and a rerun does not ask anyone to log in again.

use std::cell::RefCell;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::app::cli::{Ctx, Outcome, PlainArgs, Run, Tool};
use crate::app::converge::{self, Piece, Row};
use crate::app::grammar::{DOWN, ENV, Op, OpSpec, STATUS, UP};
use crate::clis::gcloud::{self, AuthAccount, Service, ServiceAccount};
use crate::clis::iam;
use crate::exec::cmd::quote;
use crate::exec::runner::CmdFailed;

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN, ENV];

pub const TOOL: Tool<PlainArgs, Op> = Tool {
    name: "admin-service-account",
    about: "An administrator service account, its key file and the gcloud configuration that uses it",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
admin-service-account +                    # the account, its key, the gcloud configuration
admin-service-account =                    # exit 0 when all of it is there
eval \"$(admin-service-account env)\"        # KEYFILE and GOOGLE_APPLICATION_CREDENTIALS
admin-service-account - --quiet            # remove it without asking
";

/// The names this tool works with, resolved once.
struct Admin<'a> {
    ctx: &'a Ctx,
    /// `gcloud auth list`, kept until a command changes the accounts.
    auth: RefCell<Option<Vec<AuthAccount>>>,
    /// The APIs found disabled by the probe, for the step that enables them.
    missing: RefCell<Option<Vec<String>>>,
    /// The policy the roles probe read, for the write that follows it.
    policy: RefCell<Option<gcloud::Policy>>,
    alias: String,
    project: String,
    email: String,
    key_file: PathBuf,
    /// What the key file's key is worth, found once before any change.
    key: RefCell<Option<KeyHealth>>,
}

/// Whether the key in the key file still gets the account in.
#[derive(Clone, Debug, PartialEq)]
enum KeyHealth {
    /// No file, or not a service account key (gcloud leaves an empty file
    /// behind when creating a key fails).
    Missing,
    /// The account still lists the key.
    Alive,
    /// The account no longer lists the key (deleted) or Google refused its
    /// signature; `listed` says whether the account still has it.
    Dead {
        id: String,
        why: String,
        listed: bool,
    },
}

impl Admin<'_> {
    fn in_alias(&self) -> String {
        format!("--configuration={}", self.alias)
    }

    fn project_flag(&self) -> String {
        format!("--project={}", self.project)
    }

    fn alias_props(&self) -> std::collections::BTreeMap<String, String> {
        self.ctx.gcloud.configuration(&self.alias)
    }

    fn accounts(&self) -> Result<Vec<AuthAccount>> {
        if let Some(known) = self.auth.borrow().as_ref() {
            return Ok(known.clone());
        }
        let listed: Vec<AuthAccount> = self.ctx.run.json(&gcloud::query(["auth", "list"]))?;
        *self.auth.borrow_mut() = Some(listed.clone());
        Ok(listed)
    }

    /// Runs a command that changes which accounts are logged in or used.
    fn change_accounts(&self, cmd: &crate::exec::cmd::Cmd) -> Result<()> {
        *self.auth.borrow_mut() = None;
        self.ctx.run.check(cmd)?;
        Ok(())
    }

    fn set(&self, property: &str, value: &str) -> Result<()> {
        self.change_accounts(
            &gcloud::change(["config", "set", property, value])
                .arg(self.in_alias())
                .arg("--quiet"),
        )?;
        Ok(())
    }

    /// Makes a person's account the one the configuration uses: one that is
    /// logged in already, else an interactive `gcloud auth login`.
    fn use_human_account(&self) -> Result<()> {
        let accounts = self.accounts()?;
        let humans: Vec<&AuthAccount> = accounts
            .iter()
            .filter(|a| !gcloud::is_service_account(&a.account))
            .collect();
        let chosen = humans.iter().find(|a| a.is_active()).or(humans.first());
        if let Some(human) = chosen {
            if self.alias_props().get("core/account") != Some(&human.account) {
                self.set("core/account", &human.account)?;
            }
            return Ok(());
        }
        if !self.ctx.ui.interactive {
            bail!(
                "no person's Google account is logged in to gcloud, and there is no terminal to log in on: \
                 run `gcloud auth login` (an account with Project IAM Admin rights on {}), then run this again",
                self.project
            );
        }
        self.change_accounts(
            &gcloud::change(["auth", "login"])
                .arg(self.in_alias())
                .inherit_stdio(),
        )
    }

    /// Activates a gcloud configuration, creating it when missing
    /// (`create` activates too).
    fn activate_configuration(&self, name: &str) -> Result<()> {
        let verb = if self.ctx.gcloud.configuration_exists(name) {
            "activate"
        } else {
            "create"
        };
        // The logged-in accounts stay the same: the cache of them stays too.
        self.ctx
            .run
            .check(&gcloud::change(["config", "configurations", verb, name]))?;
        Ok(())
    }

    fn human_account_in_use(&self) -> Result<bool> {
        let accounts = self.accounts()?;
        let current = self.alias_props().get("core/account").cloned();
        Ok(current.is_some_and(|c| {
            !gcloud::is_service_account(&c) && accounts.iter().any(|a| a.account == c)
        }))
    }

    fn activated(&self) -> Result<bool> {
        let credentialed = self.accounts()?.iter().any(|a| a.account == self.email);
        let in_use = self.alias_props().get("core/account") == Some(&self.email);
        Ok(credentialed && in_use && self.key_health()? == KeyHealth::Alive)
    }

    /// The key file's key checked against the account: one gcloud query,
    /// made once. A refused signature (`invalid_grant`) is a dead key too:
    /// gcloud is then signing with it.
    fn key_health(&self) -> Result<KeyHealth> {
        if let Some(known) = self.key.borrow().as_ref() {
            return Ok(known.clone());
        }
        let health = match key_id(&self.key_file) {
            None => KeyHealth::Missing,
            Some(id) => {
                let mut list = gcloud::query(["iam", "service-accounts", "keys", "list"])
                    .arg(format!("--iam-account={}", self.email))
                    .arg("--managed-by=user")
                    .arg(self.project_flag());
                if self.ctx.gcloud.configuration_exists(&self.alias) {
                    list = list.arg(self.in_alias());
                }
                let out = self.ctx.run.run(&list)?;
                if out.success() {
                    let keys: Vec<gcloud::ServiceAccountKey> =
                        serde_json::from_str(if out.stdout.trim().is_empty() {
                            "[]"
                        } else {
                            &out.stdout
                        })?;
                    if keys.iter().any(|k| k.id() == id) {
                        KeyHealth::Alive
                    } else {
                        KeyHealth::Dead {
                            why: format!("key {id} is no longer a key of {}", self.email),
                            id,
                            listed: false,
                        }
                    }
                } else if gcloud::is_refused_key(&out) {
                    KeyHealth::Dead {
                        why: format!(
                            "Google refuses key {id} (invalid_grant: Invalid JWT Signature)"
                        ),
                        id,
                        listed: true,
                    }
                } else if gcloud::is_not_found(&out) {
                    KeyHealth::Dead {
                        why: format!("the account {} is gone", self.email),
                        id,
                        listed: false,
                    }
                } else {
                    return Err(CmdFailed {
                        line: list.to_string(),
                        output: out,
                    }
                    .into());
                }
            }
        };
        *self.key.borrow_mut() = Some(health.clone());
        Ok(health)
    }

    fn member(&self) -> String {
        format!("serviceAccount:{}", self.email)
    }
}

fn run(ctx: &Ctx, op: Op, _: &PlainArgs) -> Result<Outcome> {
    let g = &ctx.config.gcloud;
    let alias = ctx
        .common
        .configuration
        .clone()
        .unwrap_or_else(|| g.configuration.clone());
    let admin = Admin {
        ctx,
        auth: RefCell::new(None),
        missing: RefCell::new(None),
        policy: RefCell::new(None),
        email: gcloud::service_account_email(&ctx.config.admin.account, &g.project),
        key_file: ctx.config.admin_key_file(&ctx.env.home()),
        project: g.project.clone(),
        alias,
        key: RefCell::new(None),
    };
    // Status looks at files, and asks gcloud only whether the key in the
    // key file still works.
    let configured = ctx.gcloud.configuration_exists(&admin.alias);
    let keyed = admin.key_file.exists();
    match op {
        Op::Status => {
            let key_row = Row::present(format!("key file {}", admin.key_file.display()), keyed);
            let (key_row, alive) = match keyed.then(|| admin.key_health()).transpose()? {
                Some(KeyHealth::Alive) => (key_row.detail(admin.email.clone()), true),
                Some(KeyHealth::Dead { why, .. }) => (
                    Row::present(
                        format!("working key in {}", admin.key_file.display()),
                        false,
                    )
                    .detail(format!("{why}: `+` makes a new one")),
                    false,
                ),
                Some(KeyHealth::Missing) => (
                    Row::present(format!("key in {}", admin.key_file.display()), false)
                        .detail("not a service account key: `+` makes a new one"),
                    false,
                ),
                None => (key_row.detail(admin.email.clone()), false),
            };
            let mut rows = vec![
                Row::present(format!("gcloud configuration {}", admin.alias), configured),
                key_row,
            ];
            let loose = loose_mode(&admin.key_file);
            if let Some(mode) = loose {
                rows.push(
                    Row::present(
                        format!(
                            "key file {} readable by its owner only",
                            admin.key_file.display()
                        ),
                        false,
                    )
                    .detail(format!("mode {mode:o}: `+` makes it 600")),
                );
            }
            ctx.report(&rows);
            Ok(Outcome::Present(
                configured && keyed && alive && loose.is_none(),
            ))
        }
        Op::Env => {
            let key = quote(&admin.key_file.to_string_lossy());
            ctx.ui.say(&format!(
                "export KEYFILE={key}\nexport GOOGLE_APPLICATION_CREDENTIALS={key}\n\
                 export ADMIN_SERVICE_ACCOUNT={}\nexport CLOUDSDK_CORE_PROJECT={}",
                quote(&admin.email),
                quote(&admin.project)
            ));
            Ok(Outcome::Present(keyed))
        }
        Op::Up => up(&admin),
        _ => {
            if !configured && !keyed {
                ctx.ui.progress(&format!(
                    "gone     gcloud configuration {} and key file",
                    admin.alias
                ));
                return Ok(Outcome::Gone(true));
            }
            down(&admin, configured)
        }
    }
}

fn up(a: &Admin) -> Result<Outcome> {
    let ctx = a.ctx;
    let active = ctx.gcloud.active == a.alias && ctx.gcloud.configuration_exists(&a.alias);
    // Once activated, the steps before it that needed a person are done.
    let activated = a.activated()?;
    let mut pieces = configuration(a, active, activated);
    pieces.extend([enabled_apis(a, activated), region_and_zone(a)]);
    pieces.push(service_account(a, activated));
    pieces.extend(key_file(a)?);
    pieces.push(project_roles(a, activated));
    pieces.extend(activation(a, activated));
    converge::up(&ctx.run, pieces)?;
    Ok(Outcome::Present(true))
}

/// The gcloud configuration: active, its project, and a person's account
/// in use for the steps that need one.
fn configuration<'a>(a: &'a Admin<'_>, active: bool, activated: bool) -> Vec<Piece<'a>> {
    let project = &a.ctx.config.gcloud.project;
    vec![
        Piece::new(format!("active gcloud configuration {}", a.alias), active)
            .create(|| a.activate_configuration(&a.alias)),
        Piece::probed(format!("project {project} in {}", a.alias), || {
            Ok(a.alias_props().get("core/project") == Some(project))
        })
        .create(|| a.set("core/project", project)),
        Piece::probed(
            "a person's account in use (for the steps below)",
            vouched(activated, || a.human_account_in_use()),
        )
        .create(|| a.use_human_account()),
    ]
}

fn enabled_apis<'a>(a: &'a Admin<'_>, activated: bool) -> Piece<'a> {
    Piece::probed(
        "enabled APIs",
        vouched(activated, || {
            let missing = missing_apis(a)?;
            let none = missing.is_empty();
            *a.missing.borrow_mut() = Some(missing);
            Ok(none)
        }),
    )
    .create(|| {
        let missing = match a.missing.take() {
            Some(m) => m,
            None => missing_apis(a)?,
        };
        a.ctx.run.check(
            &gcloud::change(["services", "enable"])
                .args(missing)
                .arg(a.project_flag()),
        )?;
        Ok(())
    })
}

fn region_and_zone<'a>(a: &'a Admin<'_>) -> Piece<'a> {
    let g = &a.ctx.config.gcloud;
    let properties = [
        ("artifacts/location", g.region.as_str()),
        ("compute/region", g.region.as_str()),
        ("compute/zone", g.zone.as_str()),
    ];
    Piece::probed(format!("region and zone in {}", a.alias), move || {
        let props = a.alias_props();
        Ok(properties
            .iter()
            .all(|(k, v)| props.get(*k).map(String::as_str) == Some(*v)))
    })
    .create(move || {
        let props = a.alias_props();
        for (key, value) in &properties {
            if props.get(*key).map(String::as_str) != Some(*value) {
                a.set(key, value)?;
            }
        }
        Ok(())
    })
}

fn service_account<'a>(a: &'a Admin<'_>, activated: bool) -> Piece<'a> {
    let ctx = a.ctx;
    Piece::probed(
        format!("service account {}", a.email),
        vouched(activated, || {
            let listed: Vec<ServiceAccount> = ctx
                .run
                .json(&gcloud::query(["iam", "service-accounts", "list"]).arg(a.project_flag()))?;
            Ok(listed.iter().any(|s| s.email == a.email))
        }),
    )
    .create(|| {
        ctx.run.check(
            &gcloud::change([
                "iam",
                "service-accounts",
                "create",
                &ctx.config.admin.account,
            ])
            .arg("--display-name=kas administrator")
            .arg(a.project_flag()),
        )?;
        Ok(())
    })
}

/// The key file: a live key (a dead one is replaced), readable by its
/// owner only.
fn key_file<'a>(a: &'a Admin<'_>) -> Result<[Piece<'a>; 2]> {
    let alive = a.key_health()? == KeyHealth::Alive;
    Ok([
        Piece::new(format!("key file {}", a.key_file.display()), alive).create(|| create_key(a)),
        Piece::probed(
            format!(
                "key file {} readable by its owner only",
                a.key_file.display()
            ),
            || Ok(loose_mode(&a.key_file).is_none()),
        )
        .create(|| owner_only(&a.ctx.run, &a.key_file)),
    ])
}

fn project_roles<'a>(a: &'a Admin<'_>, activated: bool) -> Piece<'a> {
    let ctx = a.ctx;
    Piece::probed(
        "project roles",
        vouched(activated, || {
            let policy = iam::get_policy(&ctx.run, &a.project)?;
            let granted = ctx
                .config
                .admin
                .roles
                .iter()
                .all(|r| policy.has(r, &a.member()));
            *a.policy.borrow_mut() = Some(policy);
            Ok(granted)
        }),
    )
    .create(|| {
        iam::update_policy(&ctx.run, &a.project, a.policy.take(), |p| {
            ctx.config
                .admin
                .roles
                .iter()
                .filter(|role| p.grant(role, &a.member()))
                .map(|role| format!("grant {role} to {}", a.member()))
                .collect()
        })?;
        Ok(())
    })
}

/// The service account activated from its key, and no person's account
/// left logged in.
fn activation<'a>(a: &'a Admin<'_>, activated: bool) -> [Piece<'a>; 2] {
    [
        Piece::new(format!("{} activated from its key", a.email), activated).create(|| {
            a.change_accounts(
                &gcloud::change(["auth", "activate-service-account", &a.email])
                    .arg(format!("--key-file={}", a.key_file.display()))
                    .arg(a.project_flag())
                    .arg(a.in_alias()),
            )
        }),
        Piece::probed("only service accounts logged in", || {
            Ok(humans(a)?.is_empty())
        })
        .create(|| revoke_humans(a)),
    ]
}

/// A probe that is not run when a later piece vouches for it.
fn vouched<'a>(
    done: bool,
    probe: impl FnOnce() -> Result<bool> + 'a,
) -> impl FnOnce() -> Result<bool> + 'a {
    move || if done { Ok(true) } else { probe() }
}

fn missing_apis(a: &Admin) -> Result<Vec<String>> {
    let enabled: Vec<Service> = a
        .ctx
        .run
        .json(&gcloud::query(["services", "list", "--enabled"]).arg(a.project_flag()))?;
    Ok(a.ctx
        .config
        .admin
        .apis
        .iter()
        .filter(|api| !enabled.iter().any(|s| &&s.config.name == api))
        .cloned()
        .collect())
}

/// The id of the service account key the file holds; `None` when it holds
/// none. gcloud leaves an empty file behind when creating a key fails.
fn key_id(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter(|key| key.get("private_key").is_some())
        .map(|key| {
            key.get("private_key_id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
}

/// The key file's mode when others than its owner may read or write it.
fn loose_mode(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// A new key, written next to the key file and moved over it in one step
/// (a run stopped halfway leaves the old file whole), readable by its
/// owner only; then the dead key it replaces leaves the account.
fn create_key(a: &Admin) -> Result<()> {
    let run = &a.ctx.run;
    let path = &a.key_file;
    if let Some(dir) = path.parent().filter(|d| !d.exists()) {
        run.act(&format!("create folder {}", dir.display()), || {
            Ok(std::fs::create_dir_all(dir)?)
        })?;
    }
    let mut fresh_name = path.file_name().unwrap_or_default().to_os_string();
    fresh_name.push(".new");
    let fresh = path.with_file_name(fresh_name);
    if fresh.exists() {
        run.for_real(|| Ok(std::fs::remove_file(&fresh)?))?;
    }
    run.check(
        &gcloud::change([
            "iam",
            "service-accounts",
            "keys",
            "create",
            &fresh.to_string_lossy(),
        ])
        .arg(format!("--iam-account={}", a.email))
        .arg(a.project_flag()),
    )?;
    owner_only(run, &fresh)?;
    run.act(
        &format!("move {} over {}", fresh.display(), path.display()),
        || Ok(std::fs::rename(&fresh, path)?),
    )?;
    let dead = a.key.borrow().clone();
    if let Some(KeyHealth::Dead {
        id, listed: true, ..
    }) = dead
    {
        // A refused key may be gone already: "not found" is the goal too.
        let delete = gcloud::change(["iam", "service-accounts", "keys", "delete", &id, "--quiet"])
            .arg(format!("--iam-account={}", a.email))
            .arg(a.project_flag());
        let out = run.run(&delete)?;
        if !out.success() && !gcloud::is_not_found(&out) {
            return Err(CmdFailed {
                line: delete.to_string(),
                output: out,
            }
            .into());
        }
    }
    Ok(())
}

fn owner_only(run: &crate::exec::runner::Runner, path: &Path) -> Result<()> {
    run.act(
        &format!("make {} readable by its owner only (0600)", path.display()),
        || {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            Ok(())
        },
    )
}

fn humans(a: &Admin) -> Result<Vec<String>> {
    Ok(a.accounts()?
        .into_iter()
        .map(|x| x.account)
        .filter(|x| !gcloud::is_service_account(x))
        .collect())
}

fn revoke_humans(a: &Admin) -> Result<()> {
    let people = humans(a)?;
    if !people.is_empty() {
        a.ctx
            .run
            .check(&gcloud::change(["auth", "revoke"]).args(people))?;
    }
    Ok(())
}

fn down(a: &Admin, configured: bool) -> Result<Outcome> {
    let ctx = a.ctx;
    ctx.confirm_deletion(&[
        format!("service account {} and its project roles", a.email),
        format!("key file {}", a.key_file.display()),
        format!("gcloud configuration {}", a.alias),
    ])?;
    let step = |name: &str, action: &dyn Fn() -> Result<()>| -> Result<()> {
        ctx.ui.progress(name);
        action().map_err(|e| e.context(format!("could not finish: {name}")))
    };
    if configured {
        if ctx.gcloud.active != a.alias {
            step(
                &format!("activating gcloud configuration {}", a.alias),
                &|| a.activate_configuration(&a.alias),
            )?;
        }
        step("using a person's account", &|| a.use_human_account())?;
        step("removing the service account's project roles", &|| {
            iam::update_policy(&ctx.run, &a.project, None, |p| {
                p.revoke(None, &a.member())
                    .into_iter()
                    .map(|role| format!("remove {role} from {}", a.member()))
                    .collect()
            })?;
            Ok(())
        })?;
        if a.accounts()?.iter().any(|x| x.account == a.email) {
            step(&format!("revoking {}", a.email), &|| {
                ctx.run
                    .check(&gcloud::change(["auth", "revoke", &a.email]))?;
                Ok(())
            })?;
        }
    }
    if a.key_file.exists() {
        step(
            &format!("deleting key file {}", a.key_file.display()),
            &|| {
                ctx.run
                    .act(&format!("delete {}", a.key_file.display()), || {
                        Ok(std::fs::remove_file(&a.key_file)?)
                    })
            },
        )?;
    }
    if configured {
        step(&format!("deleting service account {}", a.email), &|| {
            let listed: Vec<ServiceAccount> = ctx
                .run
                .json(&gcloud::query(["iam", "service-accounts", "list"]).arg(a.project_flag()))?;
            if listed.iter().any(|s| s.email == a.email) {
                ctx.run.check(
                    &gcloud::change(["iam", "service-accounts", "delete", &a.email, "--quiet"])
                        .arg(a.project_flag()),
                )?;
            }
            Ok(())
        })?;
        step("activating gcloud configuration default", &|| {
            a.activate_configuration("default")
        })?;
        step(
            &format!("deleting gcloud configuration {}", a.alias),
            &|| {
                ctx.run.check(&gcloud::change([
                    "config",
                    "configurations",
                    "delete",
                    &a.alias,
                    "--quiet",
                ]))?;
                Ok(())
            },
        )?;
        step("logging out people's accounts", &|| revoke_humans(a))?;
    }
    Ok(Outcome::Gone(true))
}
