//! `gke-cluster`: the zonal GKE cluster for Ray, its kubeconfig entries,
//! the NVIDIA driver installer and the firewall rule for its pods. Each
//! piece converges on its own (the script skipped everything once the
//! cluster existed).

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::app::cidr;
use crate::app::cli::{CidrArgs, Ctx, Outcome, Run, Tool};
use crate::app::config::Gke;
use crate::app::converge::{Piece, Row, State};
use crate::app::grammar::{DOWN, Op, OpSpec, REFRESH, STATUS, UP};
use crate::clis::gcloud::{self, Cluster, Firewall, Operation};
use crate::clis::kubeconfig::{self, Kubeconfig, KubeconfigFile};
use crate::clis::kubectl::{Kubectl, Ns, Target};
use crate::exec::cmd::Cmd;
use crate::exec::interrupt;
use crate::exec::runner::together;

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN, REFRESH];

pub const TOOL: Tool<CidrArgs, Op> = Tool {
    name: "gke-cluster",
    about: "The GKE cluster for Ray: cluster, kubeconfig entries, GPU driver installer, pod firewall rule",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
gke-cluster + --cidr 203.0.113.7/32        # cluster, kubeconfig, GPU drivers, firewall rule
gke-cluster + --dry-run                    # what it would do, nothing changed
gke-cluster =                              # exit 0 when it is there
gke-cluster ,                              # refresh the kubeconfig credentials
gke-cluster -                              # delete it
";

/// Where the cluster lives, resolved once.
struct Site<'a> {
    ctx: &'a Ctx,
    gke: &'a Gke,
    project: String,
    zone: String,
    kube: KubeconfigFile<'a>,
    /// The kubeconfig as this run found it.
    original: Kubeconfig,
    /// Whether this run made its one backup of the kubeconfig yet.
    backed_up: AtomicBool,
    /// kubectl's target for the cluster itself (its short context).
    in_cluster: Target,
}

impl Site<'_> {
    fn zonal(&self) -> [String; 2] {
        [
            format!("--zone={}", self.zone),
            format!("--project={}", self.project),
        ]
    }

    fn find_cluster(&self) -> Result<Option<Cluster>> {
        let clusters: Vec<Cluster> = self
            .ctx
            .run
            .json(&gcloud::query(["container", "clusters", "list"]).args(self.zonal()))?;
        Ok(clusters.into_iter().find(|c| c.name == self.gke.cluster))
    }

    fn find_firewall(&self) -> Result<Option<Firewall>> {
        self.ctx.run.json_if(
            &gcloud::query([
                "compute",
                "firewall-rules",
                "describe",
                &self.gke.firewall_rule(),
            ])
            .arg(format!("--project={}", self.project)),
            gcloud::is_not_found,
        )
    }

    fn gke_name(&self) -> String {
        kubeconfig::gke_name(&self.project, &self.zone, &self.gke.cluster)
    }

    fn create_cluster(&self, caller: &str) -> Cmd {
        let g = self.gke;
        let a = &g.autoprovisioning;
        gcloud::change(["container", "clusters", "create", &g.cluster])
            .args(self.zonal())
            .arg(format!("--network={}", g.network))
            .arg(format!("--subnetwork={}", g.subnetwork))
            .arg(format!("--release-channel={}", g.release_channel))
            .args(["--enable-private-nodes", "--enable-ip-alias"])
            .arg("--enable-master-authorized-networks")
            .arg(format!("--master-authorized-networks={caller}"))
            .arg(format!("--master-ipv4-cidr={}", g.master_cidr))
            .arg(format!(
                "--default-max-pods-per-node={}",
                g.max_pods_per_node
            ))
            .arg(format!("--machine-type={}", g.machine_type))
            .arg(format!("--disk-type={}", g.disk_type))
            .arg(format!("--disk-size={}", g.disk_size_gb))
            .arg(format!("--num-nodes={}", g.num_nodes))
            .arg("--enable-autoscaling")
            .arg(format!("--min-nodes={}", g.min_nodes))
            .arg(format!("--max-nodes={}", g.max_nodes))
            .arg(format!("--scopes={}", g.scopes.join(",")))
            .arg("--enable-autoprovisioning")
            .arg(format!(
                "--autoprovisioning-min-cpu-platform={}",
                a.min_cpu_platform
            ))
            .arg(format!("--autoprovisioning-image-type={}", a.image_type))
            .arg(format!("--max-cpu={}", a.cpus_per_node * a.nodes))
            .arg(format!("--max-memory={}", a.memory_gb_per_node * a.nodes))
            .arg(format!(
                "--max-accelerator=type={},count={}",
                a.gpu_type,
                a.gpus_per_node * a.nodes
            ))
            .arg(format!("--autoprovisioning-scopes={}", a.scopes.join(",")))
            // Minutes: show gcloud's progress meanwhile.
            .streamed(format!("gcloud creates cluster {}", g.cluster))
    }

    /// Before this run's first `kubectl config` change to the kubeconfig
    /// (gcloud only ever writes the scratch file): one copy of the file as
    /// the run found it, next to it.
    fn before_kubeconfig_change(&self) -> Result<()> {
        let path = &self.kube.path;
        if self.backed_up.load(Ordering::Relaxed) || !path.exists() {
            return Ok(());
        }
        self.backed_up.store(true, Ordering::Relaxed);
        let backup = kubeconfig::backup_path(path);
        let run = &self.ctx.run;
        run.act(
            &format!(
                "back up {} to {} (the file as it was before this run)",
                path.display(),
                backup.display()
            ),
            || {
                std::fs::copy(path, &backup)?;
                Ok(())
            },
        )?;
        run.for_real(|| {
            self.ctx.ui.progress(&format!(
                "kubeconfig as it was before this run: {}",
                backup.display()
            ));
            Ok(())
        })
    }

    /// A gcloud command that writes kubeconfig entries, pointed at the
    /// scratch file instead of the user's kubeconfig.
    fn away_from_kubeconfig(&self, cmd: Cmd) -> Cmd {
        cmd.env(
            "KUBECONFIG",
            kubeconfig::scratch_path(&self.kube.path).to_string_lossy(),
        )
    }

    fn drop_scratch(&self) {
        let _ = self.ctx.run.for_real(|| {
            let _ = std::fs::remove_file(kubeconfig::scratch_path(&self.kube.path));
            Ok(())
        });
    }

    /// Step 2: gcloud writes fresh credentials to a scratch file; stale
    /// entries leave the kubeconfig and the fresh ones arrive, all through
    /// `kubectl config`, with a short context name. The current context
    /// stays the user's; only when there was none (or it was this
    /// cluster's) does the cluster's context become current.
    fn write_credentials(&self) -> Result<()> {
        let run = &self.ctx.run;
        let long = self.gke_name();
        let short = self.gke.cluster.clone();
        let scratch = kubeconfig::scratch_path(&self.kube.path);
        self.drop_scratch();
        let fetched = run.check(&self.away_from_kubeconfig(
            gcloud::change(["container", "clusters", "get-credentials", &short]).args(self.zonal()),
        ));
        let copy = match fetched {
            Ok(_) => run.planned_or(
                || None,
                || {
                    let view = self.kube.raw_view(&scratch);
                    self.drop_scratch();
                    Ok(Some(self.kube.copy_commands(&view?, &long, &short)?))
                },
            )?,
            Err(e) => {
                self.drop_scratch();
                return Err(e);
            }
        };
        self.before_kubeconfig_change()?;
        let now = self.kube.load()?;
        for cmd in self.kube.removals(&now, &[&short, &long]) {
            run.check(&cmd)?;
        }
        match copy {
            Some(cmds) => {
                for cmd in cmds {
                    run.check(&cmd)?;
                }
            }
            None => run.note(&format!(
                "kubectl config set-cluster, set-credentials {long} and set-context {short} \
                 with what gcloud wrote to {}",
                scratch.display()
            )),
        }
        let before = &self.original.current_context;
        if before.is_empty() || *before == short || *before == long {
            run.check(&self.kube.change(["use-context", &short]))?;
        }
        Ok(())
    }

    fn remove_credentials(&self) -> Result<()> {
        let (short, long) = (self.gke.cluster.clone(), self.gke_name());
        self.before_kubeconfig_change()?;
        let now = self.kube.load()?;
        for cmd in self.kube.removals(&now, &[&short, &long]) {
            self.ctx.run.check(&cmd)?;
        }
        Ok(())
    }

    /// After Ctrl-C stopped gcloud's wait: GKE goes on with the operation
    /// anyway, so wait for it here (a second Ctrl-C stops waiting), then
    /// say what state the cluster is in and stop.
    fn settle_after_ctrl_c(&self, doing: &str) -> Result<()> {
        let (run, ui, name) = (&self.ctx.run, &self.ctx.ui, &self.gke.cluster);
        interrupt::second_ctrl_c_exits();
        let ops: Vec<Operation> =
            run.json(&gcloud::query(["container", "operations", "list"]).args(self.zonal()))?;
        let target = format!("/clusters/{name}");
        for op in ops
            .iter()
            .filter(|o| o.status != "DONE" && o.target_link.ends_with(&target))
        {
            ui.progress(&format!(
                "interrupted while {doing} cluster {name}: waiting for GKE's operation {} \
                 ({}) to finish, so the cluster is not left half-made \
                 (Ctrl-C again stops waiting; GKE goes on with it)",
                op.name, op.operation_type
            ));
            run.check(
                &gcloud::query(["container", "operations", "wait", &op.name]).args(self.zonal()),
            )?;
        }
        let state = match self.find_cluster()? {
            Some(c) => format!("cluster {name} is {}", c.status),
            None => format!("cluster {name} does not exist"),
        };
        bail!(
            "interrupted: {state}; the steps after it did not run: \
             `gke-cluster +` finishes the job, `gke-cluster -` removes what is there"
        )
    }

    /// kubectl on the cluster's short context, for the driver installer.
    fn kubectl(&self) -> Kubectl<'_> {
        Kubectl::new(&self.ctx.run, &self.in_cluster)
    }

    /// Whether the driver installer's objects exist in the cluster.
    fn driver_installed(&self) -> Result<bool> {
        let installer = self.gke.gpu_driver_installer.as_str();
        let found: Value = self.ctx.run.json(&self.kubectl().query(
            ["get", "-f", installer, "--ignore-not-found", "-o", "json"],
            Ns::Cluster,
        ))?;
        Ok(match found.get("kind").and_then(Value::as_str) {
            Some("List") => found["items"].as_array().is_some_and(|i| !i.is_empty()),
            Some(_) => true,
            None => false,
        })
    }

    /// The pods' range, from the cluster as it is now.
    fn pod_range(&self, known: Option<&Cluster>) -> Result<String> {
        if let Some(c) = known.filter(|c| !c.cluster_ipv4_cidr.is_empty()) {
            return Ok(c.cluster_ipv4_cidr.clone());
        }
        let describe = gcloud::query(["container", "clusters", "describe", &self.gke.cluster])
            .args(self.zonal());
        match self
            .ctx
            .run
            .json_if::<Cluster>(&describe, gcloud::is_not_found)?
        {
            Some(c) if !c.cluster_ipv4_cidr.is_empty() => Ok(c.cluster_ipv4_cidr),
            // A plan printed the cluster's creation: its range stands in.
            _ => self.ctx.run.planned_or(
                || format!("POD_RANGE_OF_{}", self.gke.cluster),
                || {
                    bail!(
                        "cluster {} has no pod range (clusterIpv4Cidr) yet",
                        self.gke.cluster
                    )
                },
            ),
        }
    }
}

fn run(ctx: &Ctx, op: Op, args: &CidrArgs) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    if matches!(op, Op::Up | Op::Down) {
        // Ctrl-C reaches gcloud, which stops waiting; this process stays to
        // see what GKE goes on doing (see `settle_after_ctrl_c`).
        ctx.run.for_real(|| {
            interrupt::outlive_children_on_ctrl_c();
            Ok(())
        })?;
    }
    let (project, zone) = (ctx.project()?, ctx.zone()?);
    let mut site = Site {
        ctx,
        gke: &ctx.config.gke,
        project,
        zone,
        kube: KubeconfigFile::new(&ctx.run, kubeconfig::path(&ctx.env)),
        original: Kubeconfig::default(),
        backed_up: AtomicBool::new(false),
        in_cluster: Target {
            context: Some(ctx.config.gke.cluster.clone()),
            ..Target::default()
        },
    };
    // The kubeconfig as this run found it: what `-` removes, what `=`
    // reports, and for `=` whether the cluster is likely there.
    if op != Op::Refresh {
        site.original = site.kube.load()?;
    }
    // The firewall rule does not depend on the cluster: when it will be
    // wanted, both are read side by side. `=` wants it only when the cluster
    // exists, which a kubeconfig context for it foretells; otherwise `=`
    // reads the cluster alone first (one gcloud in an empty project).
    let wanted = match op {
        Op::Refresh => false,
        Op::Status => site.original.has_context(&site.gke.cluster),
        _ => true,
    };
    let (cluster, firewall) = if wanted {
        let (cluster, firewall) = together(|| site.find_cluster(), || site.find_firewall());
        (cluster?, Some(firewall?))
    } else {
        (site.find_cluster()?, None)
    };
    if op == Op::Refresh && cluster.is_some() {
        site.original = site.kube.load()?;
    }
    match op {
        Op::Status => status(&site, cluster, firewall),
        Op::Refresh => {
            if cluster.is_none() {
                bail!(
                    "cluster {} does not exist: create it with `gke-cluster +`",
                    site.gke.cluster
                );
            }
            site.write_credentials()?;
            Ok(Outcome::Present(true))
        }
        _ => converge(&site, op, cluster, firewall, args),
    }
}

/// `=`: one gcloud query when there is no cluster; the firewall rule only
/// when there is one (`firewall`: already read alongside the cluster).
/// Never the network beyond gcloud.
fn status(
    site: &Site,
    cluster: Option<Cluster>,
    firewall: Option<Option<Firewall>>,
) -> Result<Outcome> {
    let g = site.gke;
    let mut rows = Vec::new();
    let firewall = match &cluster {
        Some(c) => {
            rows.push(
                Row::present(format!("cluster {}", g.cluster), true).detail(format!(
                    "{} endpoint {} pods {}",
                    c.status, c.endpoint, c.cluster_ipv4_cidr
                )),
            );
            match firewall {
                Some(read) => Some(read),
                None => Some(site.find_firewall()?),
            }
        }
        None => {
            rows.push(Row::present(format!("cluster {}", g.cluster), false));
            None
        }
    };
    rows.push(Row::present(
        format!("kubeconfig context {}", g.cluster),
        site.original.has_context(&g.cluster),
    ));
    if !g.gpu_driver_installer.is_empty() {
        rows.push(Row::new(
            "GPU driver installer",
            State::Unknown("not checked by status; `+` checks it".into()),
        ));
    }
    let rule = format!("firewall rule {}", g.firewall_rule());
    rows.push(match firewall {
        Some(found) => Row::present(rule, found.is_some()),
        None => Row::new(
            rule,
            State::Unknown("not checked without the cluster".into()),
        ),
    });
    site.ctx.report(&rows);
    Ok(Outcome::Present(cluster.is_some()))
}

fn converge(
    site: &Site,
    op: Op,
    cluster: Option<Cluster>,
    firewall: Option<Option<Firewall>>,
    args: &CidrArgs,
) -> Result<Outcome> {
    let g = site.gke;
    let has_context = site.original.has_context(&g.cluster);
    let stale = site.original.has_any(&g.cluster) || site.original.has_any(&site.gke_name());
    let firewall = match firewall {
        Some(read) => read,
        None => site.find_firewall()?,
    };
    // The driver lives inside the cluster: only ask when it can answer.
    let driver = if g.gpu_driver_installer.is_empty() {
        None
    } else if cluster.is_some() && has_context {
        Some(site.driver_installed()?)
    } else {
        Some(false)
    };
    let present = cluster.is_some();
    let mut pieces = vec![
        cluster_piece(site, present, args),
        Piece::new(
            format!("kubeconfig entries {}", g.cluster),
            if op == Op::Up { has_context } else { stale },
        )
        .create(|| site.write_credentials())
        .delete(|| site.remove_credentials()),
    ];
    if let Some(installed) = driver {
        pieces.push(driver_piece(site, installed));
    }
    pieces.push(firewall_piece(site, firewall.is_some(), cluster));
    site.ctx.converge(op, pieces, present)
}

/// The cluster: created for your network, deleted; a Ctrl-C meanwhile
/// waits for GKE's operation and says where it stands.
fn cluster_piece<'a>(site: &'a Site<'_>, present: bool, args: &'a CidrArgs) -> Piece<'a> {
    let ctx = site.ctx;
    Piece::new(format!("cluster {}", site.gke.cluster), present)
        .create(move || {
            let caller = cidr::caller(&ctx.run, args.cidr.as_deref())?;
            let created = ctx
                .run
                .check(&site.away_from_kubeconfig(site.create_cluster(&caller)));
            site.drop_scratch();
            if interrupt::interrupted() {
                return site.settle_after_ctrl_c("creating");
            }
            created?;
            Ok(())
        })
        .delete(move || {
            let deleted = ctx.run.check(
                &site.away_from_kubeconfig(
                    gcloud::change([
                        "container",
                        "clusters",
                        "delete",
                        &site.gke.cluster,
                        "--quiet",
                    ])
                    .args(site.zonal()),
                ),
            );
            site.drop_scratch();
            if interrupt::interrupted() {
                return site.settle_after_ctrl_c("deleting");
            }
            deleted?;
            Ok(())
        })
}

/// The GPU driver installer, applied inside the cluster.
fn driver_piece<'a>(site: &'a Site<'_>, installed: bool) -> Piece<'a> {
    let (ctx, installer) = (site.ctx, &site.gke.gpu_driver_installer);
    Piece::new("GPU driver installer", installed)
        .create(move || {
            ctx.run.check(
                &site
                    .kubectl()
                    .mutation(["apply", "-f", installer], Ns::Cluster),
            )?;
            Ok(())
        })
        .delete(move || {
            ctx.run.check(&site.kubectl().mutation(
                ["delete", "-f", installer, "--ignore-not-found"],
                Ns::Cluster,
            ))?;
            Ok(())
        })
}

/// The rule that lets the pods reach the network; its source range is the
/// cluster's pod range (`known`: the cluster as read, if it was there).
fn firewall_piece<'a>(site: &'a Site<'_>, present: bool, known: Option<Cluster>) -> Piece<'a> {
    let (ctx, g) = (site.ctx, site.gke);
    let rule = g.firewall_rule();
    Piece::new(format!("firewall rule {rule}"), present)
        .create({
            let rule = rule.clone();
            move || {
                let range = site.pod_range(known.as_ref())?;
                ctx.run.check(
                    &gcloud::change(["compute", "firewall-rules", "create", &rule])
                        .arg(format!("--project={}", site.project))
                        .arg(format!("--network={}", g.network))
                        .args(["--direction=INGRESS", "--allow=all"])
                        .arg(format!("--source-ranges={range}")),
                )?;
                Ok(())
            }
        })
        .delete(move || {
            ctx.run.check(
                &gcloud::change(["compute", "firewall-rules", "delete", &rule, "--quiet"])
                    .arg(format!("--project={}", site.project)),
            )?;
            Ok(())
        })
}
