//! `. dash [-]`, `. jlab`, `. tboard`: a server on the head pod (the
//! dashboard runs there already; JupyterLab and TensorBoard are started in
//! `screen` as in Docker mode), its port forwarded with `kfwd`'s tracked
//! forwards, and the browser opened once something answers.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::clis::kubectl::Ns;

use super::super::browser;
use super::super::docker::{DASHBOARD_PORT, JUPYTERLAB_PORT, TENSORBOARD_PORT};
use super::super::servers::{Server, pick_url, start_and_wait};
use super::{Kube, forward};

/// The dashboard: forward 8265 to kas.ports.dashboard and open it; `-`
/// stops that forward.
pub fn dash(kube: &Kube, stop: bool) -> Result<u8> {
    if stop {
        return forward::stop_port(kube, DASHBOARD_PORT);
    }
    let local = kube.cfg.ports.dashboard;
    forward::check_port(kube, DASHBOARD_PORT, local).with_context(|| {
        format!("the dashboard's local port is kas.ports.dashboard ({local}) in kas.yaml")
    })?;
    let (cluster, head) = kube.prepare()?;
    forward::start(kube, &cluster, &head, DASHBOARD_PORT, local).with_context(|| {
        format!("the dashboard's local port is kas.ports.dashboard ({local}) in kas.yaml")
    })?;
    open_when_answering(kube, local, &format!("http://127.0.0.1:{local}"))
        .context("the Ray dashboard")?;
    Ok(0)
}

pub fn jlab(kube: &Kube) -> Result<u8> {
    serve(
        kube,
        Server {
            name: "jlab",
            command: "jupyter lab --allow-root --no-browser --ip=0.0.0.0".into(),
            port: JUPYTERLAB_PORT,
            host_port: kube.cfg.ports.jupyterlab,
        },
    )
}

pub fn tboard(kube: &Kube) -> Result<u8> {
    serve(
        kube,
        Server {
            name: "tboard",
            // Expanded by the shell on the pod: the head pod's home.
            command: "tensorboard --logdir \"$HOME/ray_results\" --bind_all".into(),
            port: TENSORBOARD_PORT,
            host_port: kube.cfg.ports.tensorboard,
        },
    )
}

fn serve(kube: &Kube, server: Server) -> Result<u8> {
    // Before the server starts on the head pod.
    forward::check_port(kube, server.port, server.host_port).with_context(|| {
        format!(
            "the local port of {} is set in kas.yaml (kas.ports), now {}",
            server.name, server.host_port
        )
    })?;
    let (cluster, pod) = kube.prepare()?;
    let script = start_and_wait(&server, kube.cfg.server_wait_seconds);
    let exec = kube
        .kubectl()
        .mutation(["exec", pod.as_str()], Ns::Named(&cluster.namespace))
        .args(["--", "sh", "-c", &script]);
    let Some(out) = kube.ctx.run.produce(&exec)? else {
        forward::start(kube, &cluster, &pod, server.port, server.host_port)?;
        kube.ctx.ui.say(&format!(
            "# then open the URL for port {} that {} prints",
            server.port, server.name
        ));
        return Ok(0);
    };
    if !out.success() {
        bail!(
            "{} did not come up on the head pod {pod}:\n{}",
            server.name,
            browser::mask_tokens(out.stderr.trim())
        );
    }
    let Some(url) = pick_url(&out.stdout, server.host_port) else {
        bail!(
            "{} printed no URL for port {}: {}",
            server.name,
            server.port,
            browser::mask_tokens(out.stdout.trim())
        );
    };
    forward::start(kube, &cluster, &pod, server.port, server.host_port).with_context(|| {
        format!(
            "the local port of {} is set in kas.yaml (kas.ports), now {}",
            server.name, server.host_port
        )
    })?;
    open_when_answering(kube, server.host_port, &url)?;
    Ok(0)
}

/// Opens `url` once an HTTP request to 127.0.0.1:`local` gets an answer.
fn open_when_answering(kube: &Kube, local: u16, url: &str) -> Result<()> {
    let within = Duration::from_secs(kube.cfg.server_wait_seconds.into());
    kube.ctx
        .run
        .for_real(|| forward::wait_for_answer(local, within))?;
    browser::open(kube.ctx, url)
}
