//! Opening a URL for the user: `BROWSER` when set, else `open` (macOS) or
//! `xdg-open`, else only the printed URL.

use anyhow::Result;

use crate::app::cli::Ctx;
use crate::exec::cmd::Cmd;

/// Prints `url` and opens it.
pub fn open(ctx: &Ctx, url: &str) -> Result<()> {
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
