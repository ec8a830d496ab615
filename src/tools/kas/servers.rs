//! `jlab`, `tboard` and `dash`: a server in the container (started inside
//! `screen`, so it outlives this command and can be attached to), whose URL
//! is read from its output and opened in the browser.

use anyhow::{Result, bail};

use crate::clis::docker;
use crate::exec::cmd::quote;

use super::browser;
use super::docker::{JUPYTERLAB_PORT, TENSORBOARD_PORT, ensure_running};
use super::project::Project;

pub(super) struct Server {
    /// Shown to the user and used for the screen session and the log.
    pub name: &'static str,
    pub command: String,
    /// The port it listens on inside the container.
    pub port: u16,
    /// Where that port is published on 127.0.0.1.
    pub host_port: u16,
}

pub fn jlab(p: &Project) -> Result<u8> {
    serve(
        p,
        Server {
            name: "jlab",
            command: "jupyter lab --allow-root --no-browser --ip=0.0.0.0".into(),
            port: JUPYTERLAB_PORT,
            host_port: p.cfg.ports.jupyterlab,
        },
    )
}

pub fn tboard(p: &Project) -> Result<u8> {
    let logdir = format!("{}/ray_results", p.home()?);
    serve(
        p,
        Server {
            name: "tboard",
            command: format!("tensorboard --logdir {} --bind_all", quote(&logdir)),
            port: TENSORBOARD_PORT,
            host_port: p.cfg.ports.tensorboard,
        },
    )
}

/// The Ray dashboard: in Docker mode its port is already published.
pub fn dash(p: &Project, stop: bool) -> Result<u8> {
    if stop {
        p.ctx.ui.progress(
            "in Docker mode the dashboard's port is published by docker: nothing to stop",
        );
        return Ok(0);
    }
    browser::open(
        p.ctx,
        &format!("http://127.0.0.1:{}", p.cfg.ports.dashboard),
    )?;
    Ok(0)
}

fn serve(p: &Project, server: Server) -> Result<u8> {
    ensure_running(p)?;
    let script = start_and_wait(&server, p.cfg.server_wait_seconds);
    let exec = docker::change(["exec", &p.name, "sh", "-c", &script]);
    let Some(out) = p.ctx.run.produce(&exec)? else {
        p.ctx.ui.say(&format!(
            "# then open the URL for port {} that {} prints",
            server.port, server.name
        ));
        return Ok(0);
    };
    if !out.success() {
        bail!(
            "{} did not come up in container {}:\n{}",
            server.name,
            p.name,
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
    browser::open(p.ctx, &url)?;
    Ok(0)
}

/// A shell script run in the container: start the server in a detached
/// screen session unless one runs, then wait (bounded) until its output
/// holds a URL for its port, and print every such URL.
pub(super) fn start_and_wait(server: &Server, wait_seconds: u32) -> String {
    let session = format!("kas-{}", server.name);
    let log = format!("/tmp/kas-{}.log", server.name);
    let inner = format!("{} 2>&1 | tee {log}", server.command);
    let tries = wait_seconds.max(1) * 2;
    let port = server.port;
    let name = server.name;
    let inner = quote(&inner);
    format!(
        r#"export TERM="${{TERM:-xterm}}"
running() {{ screen -ls 2>/dev/null | grep -q '[.]{session}[[:space:]]'; }}
if ! running; then
  rm -f {log}
  screen -dmS {session} sh -c {inner}
fi
i=0
while [ "$i" -lt {tries} ]; do
  urls=$(grep -o 'http://[^[:space:]]*:{port}/[^[:space:]]*' {log} 2>/dev/null)
  if [ -n "$urls" ]; then echo "$urls"; exit 0; fi
  if [ "$i" -gt 4 ] && ! running; then break; fi
  i=$((i + 1))
  sleep 0.5
done
echo "{name} printed no URL for port {port} within {wait_seconds} s; the end of {log}:" >&2
tail -n 20 {log} >&2
exit 1
"#
    )
}

/// The URL to open: the one on 127.0.0.1 if the server printed several,
/// pointed at the host port that docker publishes.
pub(super) fn pick_url(printed: &str, host_port: u16) -> Option<String> {
    let urls: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("http://"))
        .collect();
    let best = urls
        .iter()
        .find(|u| u.starts_with("http://127.0.0.1:") || u.starts_with("http://localhost:"))
        .or(urls.first())?;
    let rest = &best["http://".len()..];
    let (_authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Some(format!("http://127.0.0.1:{host_port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_loopback_url_and_the_host_port() {
        let printed = "http://a1b2c3:8888/lab?token=t0k\nhttp://127.0.0.1:8888/lab?token=t0k\n";
        assert_eq!(
            pick_url(printed, 18888).unwrap(),
            "http://127.0.0.1:18888/lab?token=t0k"
        );
        assert_eq!(
            pick_url("http://e5f6:6006/\n", 6006).unwrap(),
            "http://127.0.0.1:6006/"
        );
        assert_eq!(pick_url("nothing here\n", 1), None);
    }
}
