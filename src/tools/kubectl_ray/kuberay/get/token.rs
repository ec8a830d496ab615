//! `kubectl ray get token CLUSTER`: the Ray auth token of a RayCluster
//! that uses token authentication (`spec.authOptions.mode: token`), from
//! the secret KubeRay keeps it in; the cluster and the secret in one
//! kubectl call. The token goes to standard output only.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::super::table::{self, col};
use super::not_installed;
use crate::app::cli::{Ctx, Outcome};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Ns, Secret, Target};
use crate::exec::base64;
use crate::ray::RAYCLUSTERS;
use crate::ray::cluster::RayCluster;

pub const EXAMPLES: &str = "\
Examples:
  kubectl ray get token demo                   # print it
  export RAY_AUTH_TOKEN=$(kubectl ray get token demo -n ray)
";

/// The key of the token in KubeRay's secret.
const KEY: &str = "auth_token";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The RayCluster
    #[arg(value_name = "CLUSTER")]
    cluster: String,
    /// The token as text, or as JSON or YAML ({cluster, token})
    #[arg(long, short = 'o', value_enum, default_value_t = table::Output::Text)]
    output: table::Output,
}

pub struct GetToken {
    args: Args,
    target: Target,
}

impl GetToken {
    pub fn new(args: Args, target: Target) -> GetToken {
        GetToken { args, target }
    }
}

fn secret_of(items: &[Value], name: &str) -> Result<Option<Secret>> {
    let found = items
        .iter()
        .find(|i| i["kind"] == "Secret" && i["metadata"]["name"] == name);
    Ok(found
        .map(|s| serde_json::from_value(s.clone()))
        .transpose()?)
}

impl Command for GetToken {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let name = &self.args.cluster;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let ns = Ns::Current;
        // KubeRay keeps the token in a secret named after the cluster.
        let refs = [format!("{RAYCLUSTERS}/{name}"), format!("secrets/{name}")];
        let items = kubectl.get_each(&refs, ns)?.ok_or_else(not_installed)?;
        let Some(cluster) = items.iter().find(|i| i["kind"] == "RayCluster") else {
            bail!("RayCluster {name} not found: `kubectl ray get cluster` lists them");
        };
        let cluster: RayCluster = serde_json::from_value(cluster.clone())?;
        let auth = cluster.spec.auth_options.as_ref();
        if auth.is_none_or(|a| a.mode != "token") {
            bail!(
                "RayCluster {name} was not configured to use authentication tokens \
                 (spec.authOptions.mode is not `token`)"
            );
        }
        let secret_name = auth
            .and_then(|a| a.secret_name.clone())
            .unwrap_or_else(|| name.clone());
        let secret = match secret_of(&items, &secret_name)? {
            Some(s) => Some(s),
            // A secret named otherwise (authOptions.secretName): one more read.
            None if &secret_name != name => kubectl.get("secrets", &secret_name, ns)?,
            None => None,
        };
        let secret = secret.with_context(|| {
            format!("the secret {secret_name} of RayCluster {name} is missing: the KubeRay operator makes it")
        })?;
        let token = secret
            .data
            .get(KEY)
            .and_then(|b| base64::decode(b))
            .with_context(|| format!("the secret {secret_name} has no {KEY}"))?;
        let token = String::from_utf8_lossy(&token).into_owned();
        match self.args.output {
            table::Output::Text => ctx.ui.say(&token),
            other => {
                let cols = [col("CLUSTER", "cluster"), col("TOKEN", "token")];
                table::print(ctx, other, &cols, &[vec![json!(name), json!(token)]])?;
            }
        }
        Ok(Outcome::Done)
    }
}
