//! `ray-service-account`: the accounts Ray's GCE autoscaler uses, with read
//! access to Artifact Registry. The autoscaler's own account is made by
//! Ray's `ray up`, never here; the registry reader is ours, and `-` removes
//! only what is ours.
//! `cluster_files` holds what the Compute Engine cluster files (`yaml/gcp`)
//! must say to agree with `kas.yaml`.

pub mod cluster_files;

use anyhow::{Result, bail};

use crate::app::cli::{Ctx, Outcome, PlainArgs, Run, Tool};
use crate::app::converge::{Piece, Row};
use crate::app::grammar::{DOWN, Op, OpSpec, STATUS, UP};
use crate::clis::gcloud::{self, Policy, ServiceAccount};
use crate::clis::iam;

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN];

pub const TOOL: Tool<PlainArgs, Op> = Tool {
    name: "ray-service-account",
    about: "Service accounts for Ray's GCE autoscaler, with read access to Artifact Registry",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
ray-service-account +                      # after `ray up` made ray-autoscaler-sa-v1
ray-service-account =                      # exit 0 when both accounts are there
ray-service-account -                      # remove their roles, then them
";

const READER: &str = "roles/artifactregistry.reader";
const ACT_AS: &str = "roles/iam.serviceAccountUser";

struct Account {
    email: String,
    roles: &'static [&'static str],
    exists: bool,
}

impl Account {
    fn member(&self) -> String {
        format!("serviceAccount:{}", self.email)
    }
}

fn run(ctx: &Ctx, op: Op, _: &PlainArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let project = ctx.project()?;
    let project_flag = format!("--project={project}");
    // Two independent reads: run them side by side.
    let (listed, policy) = std::thread::scope(|s| {
        let list = s.spawn(|| {
            ctx.run.json::<Vec<ServiceAccount>>(
                &gcloud::query(["iam", "service-accounts", "list"]).arg(&project_flag),
            )
        });
        let policy = iam::get_policy(&ctx.run, &project);
        (list.join().expect("the list thread does not panic"), policy)
    });
    let (listed, policy) = (listed?, policy?);
    let ray = &ctx.config.ray;
    let account = |name: &str, roles| {
        let email = gcloud::service_account_email(name, &project);
        let exists = listed.iter().any(|a| a.email == email);
        Account {
            email,
            roles,
            exists,
        }
    };
    let autoscaler = account(&ray.autoscaler_account, &[READER, ACT_AS]);
    let reader = account(&ray.reader_account, &[READER]);
    let accounts = [autoscaler, reader];
    let holds_roles = |a: &Account| a.roles.iter().all(|r| policy.has(r, &a.member()));
    let complete = accounts.iter().all(|a| a.exists && holds_roles(a));
    match op {
        Op::Status => {
            let rows: Vec<Row> = accounts
                .iter()
                .map(|a| {
                    let roles = policy.roles_of(&a.member());
                    let detail = if roles.is_empty() {
                        "no roles".into()
                    } else {
                        roles.join(", ")
                    };
                    Row::present(format!("service account {}", a.email), a.exists).detail(detail)
                })
                .collect();
            ctx.report(&rows);
            Ok(Outcome::Present(complete))
        }
        Op::Up => up(ctx, &project_flag, &project, policy, &accounts),
        _ => down(ctx, &project_flag, &project, policy, &accounts),
    }
}

fn up(
    ctx: &Ctx,
    project_flag: &str,
    project: &str,
    policy: Policy,
    accounts: &[Account; 2],
) -> Result<Outcome> {
    let [autoscaler, reader] = accounts;
    if !autoscaler.exists {
        bail!(
            "service account {} does not exist yet: Ray's `ray up` creates it on its first run; \
             start a cluster with `ray up` once, then run `ray-service-account +` again (nothing was changed)",
            autoscaler.email
        );
    }
    let name = &ctx.config.ray.reader_account;
    let pieces = vec![
        Piece::new(format!("service account {}", reader.email), reader.exists).create(|| {
            ctx.run.check(
                &gcloud::change(["iam", "service-accounts", "create", name])
                    .arg(format!(
                        "--display-name={}",
                        ctx.config.ray.reader_display_name
                    ))
                    .arg(project_flag),
            )?;
            Ok(())
        }),
        Piece::new(
            "role bindings",
            accounts
                .iter()
                .all(|a| a.roles.iter().all(|r| policy.has(r, &a.member()))),
        )
        .create(|| {
            iam::update_policy(&ctx.run, project, Some(policy.clone()), |p| {
                let mut changes = Vec::new();
                for a in accounts {
                    for role in a.roles {
                        if p.grant(role, &a.member()) {
                            changes.push(format!("grant {role} to {}", a.member()));
                        }
                    }
                }
                changes
            })?;
            Ok(())
        }),
    ];
    crate::app::converge::up(&ctx.run, pieces)?;
    Ok(Outcome::Present(true))
}

fn down(
    ctx: &Ctx,
    project_flag: &str,
    project: &str,
    policy: Policy,
    accounts: &[Account; 2],
) -> Result<Outcome> {
    // Ours: the reader with every role bound to it, and the registry role
    // given to Ray's account. Ray's account and the roles Ray's bootstrap
    // grants it (iam.serviceAccountUser among them) stay: Ray made them and
    // its `ray down` and next `ray up` run as that account.
    let [autoscaler, reader] = accounts;
    let reader_bound = reader.exists && !policy.roles_of(&reader.member()).is_empty();
    let autoscaler_reads = policy.has(READER, &autoscaler.member());
    let mut doomed = Vec::new();
    if reader.exists {
        doomed.push(format!("service account {}", reader.email));
    }
    if reader_bound {
        doomed.push(format!("every project role of {}", reader.email));
    }
    if autoscaler_reads {
        doomed.push(format!("{READER} of {}", autoscaler.email));
    }
    ctx.confirm_deletion(&doomed)?;
    // Bindings first, in one write, so no deleted account lingers in the policy.
    if reader_bound || autoscaler_reads {
        ctx.ui.progress("deleting role bindings");
        iam::update_policy(&ctx.run, project, Some(policy.clone()), |p| {
            let mut changes = Vec::new();
            if reader.exists {
                for role in p.revoke(None, &reader.member()) {
                    changes.push(format!("remove {role} from {}", reader.member()));
                }
            }
            for role in p.revoke(Some(READER), &autoscaler.member()) {
                changes.push(format!("remove {role} from {}", autoscaler.member()));
            }
            changes
        })
        .map_err(|e| e.context("could not delete the role bindings"))?;
    }
    if reader.exists {
        ctx.ui
            .progress(&format!("deleting service account {}", reader.email));
        ctx.run
            .check(
                &gcloud::change([
                    "iam",
                    "service-accounts",
                    "delete",
                    &reader.email,
                    "--quiet",
                ])
                .arg(project_flag),
            )
            .map_err(|e| e.context(format!("could not delete service account {}", reader.email)))?;
    } else {
        ctx.ui
            .progress(&format!("gone     service account {}", reader.email));
    }
    if autoscaler.exists {
        ctx.ui.progress(&format!(
            "kept     service account {} (Ray's own: `ray down` and Ray's next `ray up` use it)",
            autoscaler.email
        ));
    }
    Ok(Outcome::Gone(true))
}
