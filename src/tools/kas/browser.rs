//! Opening a URL for the user: `BROWSER` when set, else `open` (macOS) or
//! `xdg-open`, else only the printed URL. A URL that holds a token (as
//! JupyterLab's does) never reaches an argument list or a printed line:
//! as Jupyter itself does, the browser gets a local page (mode 0600) that
//! redirects to it, removed once the browser has read it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use crate::app::cli::Ctx;
use crate::exec::cmd::Cmd;

/// The query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 2] = ["token=", "_xsrf="];

/// Prints `url` (its token masked) and opens it.
pub fn open(ctx: &Ctx, url: &str) -> Result<()> {
    let shown = mask_tokens(url);
    if shown == url {
        return open_plain(ctx, url);
    }
    ctx.ui.say(&shown);
    let page = redirect_page(ctx, url)?;
    let page_url = format!("file://{}", page.display());
    let Some(opener) = opener(ctx, &page_url) else {
        ctx.ui.progress(&format!(
            "open {page_url} in a browser: it leads there with the token (the file is readable by you only)"
        ));
        return Ok(());
    };
    let out = ctx.run.run(&opener);
    let opened = matches!(&out, Ok(o) if o.success());
    if !opened {
        ctx.ui.warn(&format!(
            "`{}` could not open the browser; open {page_url} yourself \
             (it leads to {shown} with the token; readable by you only)",
            opener.program()
        ));
        return out.map(|_| ());
    }
    // The opener may return before the browser has read the page.
    wait_until_read(&page, Duration::from_secs(10));
    let _ = std::fs::remove_file(&page);
    Ok(())
}

fn open_plain(ctx: &Ctx, url: &str) -> Result<()> {
    ctx.ui.say(url);
    let Some(opener) = opener(ctx, url) else {
        return Ok(());
    };
    let out = ctx.run.run(&opener)?;
    if !out.success() {
        ctx.ui.warn(&format!(
            "`{}` could not open the browser; open {url} yourself",
            opener.program()
        ));
    }
    Ok(())
}

/// `text` with the value of every `token=` (and `_xsrf=`) replaced by `***`.
pub fn mask_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, param)) = SECRET_PARAMS
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, *p)))
        .min_by_key(|(i, _)| *i)
    {
        let start = at + param.len();
        out.push_str(&rest[..start]);
        let value_len = rest[start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len() - start);
        if value_len > 0 {
            out.push_str("***");
        }
        rest = &rest[start + value_len..];
    }
    out.push_str(rest);
    out
}

/// Writes the page that sends the browser to `url`: in the state folder
/// (`$XDG_STATE_HOME/kas`, else `~/.local/state/kas`), created 0600 under
/// a temporary name and renamed into place.
fn redirect_page(ctx: &Ctx, url: &str) -> Result<PathBuf> {
    let base = match ctx.env.non_empty("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => ctx.env.home().join(".local/state"),
    };
    let dir = base.join("kas");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    // NamedTempFile is created with mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix("open-")
        .suffix(".html")
        .tempfile_in(&dir)
        .with_context(|| format!("could not create a page in {}", dir.display()))?;
    file.write_all(page(url).as_bytes())?;
    let (_, path) = file.keep().context("could not keep the redirect page")?;
    Ok(path)
}

/// The HTML: a refresh, a script and a link, as Jupyter's own page has.
fn page(url: &str) -> String {
    let attr = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let script = serde_json::to_string(url)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"1;url={attr}\">\n<title>Opening…</title></head>\n\
         <body><script>window.location.href = {script};</script>\n\
         <p>Opening <a href=\"{attr}\">{attr}</a>…</p></body></html>\n"
    )
}

/// Waits until `path` was read after it was written (its access time
/// passes its modification time), at most `limit`.
fn wait_until_read(path: &Path, limit: Duration) {
    let start = Instant::now();
    let read = |p: &Path| -> Option<bool> {
        let meta = std::fs::metadata(p).ok()?;
        let accessed: SystemTime = meta.accessed().ok()?;
        Some(accessed > meta.modified().ok()?)
    };
    while start.elapsed() < limit {
        if read(path) != Some(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `BROWSER` is a command (`firefox`, `firefox --new-window %s`); `%s`
/// stands for the URL, which otherwise goes last.
fn opener(ctx: &Ctx, url: &str) -> Option<Cmd> {
    if let Some(browser) = ctx.env.non_empty("BROWSER") {
        let mut words = browser.split_whitespace();
        let program = words.next()?;
        let mut cmd = Cmd::mutation(program);
        let mut placed = false;
        for word in words {
            if word.contains("%s") {
                placed = true;
                cmd = cmd.arg(word.replace("%s", url));
            } else {
                cmd = cmd.arg(word);
            }
        }
        return Some(if placed { cmd } else { cmd.arg(url) });
    }
    let system = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let path = ctx.env.get("PATH")?;
    let cwd = std::env::current_dir().ok()?;
    which::which_in(system, Some(path), cwd)
        .ok()
        .map(|_| Cmd::mutation(system).arg(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_wherever_they_are() {
        assert_eq!(
            mask_tokens("http://127.0.0.1:1/lab?token=abc123"),
            "http://127.0.0.1:1/lab?token=***"
        );
        assert_eq!(
            mask_tokens("a?x=1&token=t0k&y=2 and token=zz\n"),
            "a?x=1&token=***&y=2 and token=***\n"
        );
        assert_eq!(
            mask_tokens("http://127.0.0.1:6006/"),
            "http://127.0.0.1:6006/"
        );
        assert_eq!(mask_tokens("token="), "token=");
    }

    #[test]
    fn the_page_redirects_to_the_url_and_escapes_it() {
        let html = page("http://127.0.0.1:1/lab?token=t&x=</script>");
        assert!(html.contains("url=http://127.0.0.1:1/lab?token=t&amp;x=&lt;/script&gt;"));
        assert!(html.contains(
            r#"window.location.href = "http://127.0.0.1:1/lab?token=t&x=\u003c/script>";"#
        ));
    }
}
