//! `kubectl ray get token CLUSTER`: the Ray auth token of a RayCluster
//! that uses token authentication (`spec.authOptions.mode: token`), from
//! the secret KubeRay keeps it in. The token goes to standard output only.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::super::table::{self, col};
use super::{Listing, not_installed};
use crate::app::cli::{Ctx, Outcome};
use crate::app::driver::Command;
use crate::clis::kubectl::{Kubectl, Lookup, Ns, Secret, Target};
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

impl Command for GetToken {
    fn run(&self, ctx: &Ctx) -> Result<Outcome> {
        let name = &self.args.cluster;
        let kubectl = Kubectl::new(&ctx.run, &self.target);
        let cluster: RayCluster = match kubectl.lookup(RAYCLUSTERS, name, Ns::Current)? {
            Lookup::Found(c) => c,
            Lookup::Missing => {
                bail!("RayCluster {name} not found: `kubectl ray get cluster` lists them")
            }
            Lookup::UnknownKind => return Err(not_installed()),
        };
        let auth = cluster.spec.auth_options.as_ref();
        if auth.is_none_or(|a| a.mode != "token") {
            bail!(
                "RayCluster {name} was not configured to use authentication tokens (spec.authOptions.mode is not `token`)"
            );
        }
        let secret_name = auth
            .and_then(|a| a.secret_name.clone())
            .unwrap_or_else(|| name.clone());
        let secret: Secret = kubectl
            .get("secrets", &secret_name, Ns::Current)?
            .with_context(|| format!("the secret {secret_name} of RayCluster {name} is missing: the KubeRay operator makes it"))?;
        let token = secret
            .data
            .get(KEY)
            .and_then(|b| base64::decode(b))
            .with_context(|| format!("the secret {secret_name} has no {KEY}"))?;
        let token = String::from_utf8_lossy(&token).into_owned();
        match self.args.output {
            table::Output::Text => ctx.ui.say(&token),
            other => {
                let listing = Listing {
                    all_namespaces: false,
                    output: other,
                };
                let cols = [col("CLUSTER", "cluster"), col("TOKEN", "token")];
                let rows: Vec<Vec<Value>> = vec![vec![json!(name), json!(token)]];
                table::print(ctx, listing.output, &cols, &rows)?;
            }
        }
        Ok(Outcome::Done)
    }
}
