//! `gke-cluster`: the zonal GKE cluster for Ray, its kubeconfig entries,
//! the NVIDIA driver installer and the firewall rule for its pods. Each
//! piece converges on its own (the script skipped everything once the
//! cluster existed).

use anyhow::{Result, bail};
use serde_json::Value;

use crate::app::cidr;
use crate::app::cli::{CidrArgs, Ctx, Outcome, Tool};
use crate::app::config::Gke;
use crate::app::converge::{Piece, Row, State};
use crate::app::grammar::{DOWN, Op, OpSpec, REFRESH, STATUS, UP};
use crate::clis::gcloud::{self, Cluster, Firewall};
use crate::clis::kubeconfig;
use crate::exec::cmd::Cmd;
use crate::exec::runner::together;

pub const OPS: &[OpSpec<Op>] = &[STATUS, UP, DOWN, REFRESH];

pub const TOOL: Tool<CidrArgs, Op> = Tool {
    name: "gke-cluster",
    about: "The GKE cluster for Ray: cluster, kubeconfig entries, GPU driver installer, pod firewall rule",
    ops: OPS,
    examples: EXAMPLES,
    run,
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
        self.ctx.run.json_if_found(
            &gcloud::query([
                "compute",
                "firewall-rules",
                "describe",
                &self.gke.firewall_rule(),
            ])
            .arg(format!("--project={}", self.project)),
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

    /// Step 2: stale entries out, fresh credentials in, short names.
    fn write_credentials(&self) -> Result<()> {
        let run = &self.ctx.run;
        let path = kubeconfig::path(&self.ctx.env);
        let long = self.gke_name();
        let short = self.gke.cluster.clone();
        let shown = path.display();
        let backup = path.with_extension("kas-backup");
        if path.exists() {
            run.act(&format!("back up {shown} to {}", backup.display()), || {
                std::fs::copy(&path, &backup)?;
                Ok(())
            })?;
        }
        run.act(
            &format!("remove kubeconfig entries {short} and {long} from {shown}"),
            || {
                let mut config = kubeconfig::load(&path)?;
                if kubeconfig::remove(&mut config, &[&short, &long]) {
                    kubeconfig::save(&path, &config)?;
                }
                Ok(())
            },
        )?;
        run.check(
            &gcloud::change(["container", "clusters", "get-credentials", &short])
                .args(self.zonal()),
        )?;
        run.act(
            &format!("rename kubeconfig entries {long} to {short} in {shown}"),
            || {
                let mut config = kubeconfig::load(&path)?;
                kubeconfig::rename(&mut config, &long, &short);
                kubeconfig::save(&path, &config)
            },
        )
    }

    fn remove_credentials(&self) -> Result<()> {
        let path = kubeconfig::path(&self.ctx.env);
        let (short, long) = (self.gke.cluster.clone(), self.gke_name());
        self.ctx.run.act(
            &format!(
                "remove kubeconfig entries {short} and {long} from {}",
                path.display()
            ),
            || {
                let mut config = kubeconfig::load(&path)?;
                kubeconfig::remove(&mut config, &[&short, &long]);
                kubeconfig::save(&path, &config)
            },
        )
    }

    fn kubectl(&self, verb: &str) -> Cmd {
        let cmd = if verb == "get" {
            Cmd::query("kubectl")
        } else {
            Cmd::mutation("kubectl")
        };
        cmd.args([verb, "-f", &self.gke.gpu_driver_installer])
            .arg(format!("--context={}", self.gke.cluster))
    }

    /// Whether the driver installer's objects exist in the cluster.
    fn driver_installed(&self) -> Result<bool> {
        let found: Value =
            self.ctx.run.json(
                &self
                    .kubectl("get")
                    .args(["--ignore-not-found", "-o", "json"]),
            )?;
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
        match self.ctx.run.json_if_found::<Cluster>(&describe)? {
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
    let site = Site {
        ctx,
        gke: &ctx.config.gke,
        project: ctx.project()?,
        zone: ctx.zone()?,
    };
    // The firewall rule does not depend on the cluster: when it will be
    // wanted, both are read side by side. `=` wants it only when the cluster
    // exists, which a kubeconfig context for it foretells; otherwise `=`
    // reads the cluster alone first (one gcloud in an empty project).
    let wanted = match op {
        Op::Refresh => false,
        Op::Status => kubeconfig::has_context(
            &kubeconfig::load(&kubeconfig::path(&ctx.env))?,
            &site.gke.cluster,
        ),
        _ => true,
    };
    let (cluster, firewall) = if wanted {
        let (cluster, firewall) = together(|| site.find_cluster(), || site.find_firewall());
        (cluster?, Some(firewall?))
    } else {
        (site.find_cluster()?, None)
    };
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
    let config = kubeconfig::load(&kubeconfig::path(&site.ctx.env))?;
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
        kubeconfig::has_context(&config, &g.cluster),
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
    let ctx = site.ctx;
    let g = site.gke;
    let config = kubeconfig::load(&kubeconfig::path(&ctx.env))?;
    let has_context = kubeconfig::has_context(&config, &g.cluster);
    let stale =
        kubeconfig::has_any(&config, &g.cluster) || kubeconfig::has_any(&config, &site.gke_name());
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
    let known = cluster.clone();
    let rule = g.firewall_rule();
    let mut pieces = vec![
        Piece::new(format!("cluster {}", g.cluster), cluster.is_some())
            .create(|| {
                let caller = cidr::caller(&ctx.run, args.cidr.as_deref())?;
                ctx.run.check(&site.create_cluster(&caller))?;
                Ok(())
            })
            .delete(|| {
                ctx.run.check(
                    &gcloud::change(["container", "clusters", "delete", &g.cluster, "--quiet"])
                        .args(site.zonal()),
                )?;
                Ok(())
            }),
        Piece::new(
            format!("kubeconfig entries {}", g.cluster),
            if op == Op::Up { has_context } else { stale },
        )
        .create(|| site.write_credentials())
        .delete(|| site.remove_credentials()),
    ];
    if let Some(installed) = driver {
        pieces.push(
            Piece::new("GPU driver installer", installed)
                .create(|| {
                    ctx.run.check(&site.kubectl("apply"))?;
                    Ok(())
                })
                .delete(|| {
                    ctx.run
                        .check(&site.kubectl("delete").arg("--ignore-not-found"))?;
                    Ok(())
                }),
        );
    }
    pieces.push(
        Piece::new(format!("firewall rule {rule}"), firewall.is_some())
            .create(|| {
                let range = site.pod_range(known.as_ref())?;
                ctx.run.check(
                    &gcloud::change(["compute", "firewall-rules", "create", &rule])
                        .arg(format!("--project={}", site.project))
                        .arg(format!("--network={}", g.network))
                        .args(["--direction=INGRESS", "--allow=all"])
                        .arg(format!("--source-ranges={range}")),
                )?;
                Ok(())
            })
            .delete(|| {
                ctx.run.check(
                    &gcloud::change(["compute", "firewall-rules", "delete", &rule, "--quiet"])
                        .arg(format!("--project={}", site.project)),
                )?;
                Ok(())
            }),
    );
    let present = cluster.is_some();
    ctx.converge(op, pieces, present)
}
