//! `clean-images`: removes old images of `kas[.FLAVOR]` from the `images`
//! repository, chosen by tag, by a pattern over the listed lines, or by age;
//! interactively when no choice is given on a terminal.

use anyhow::{Result, bail};

use crate::app::cli::{Common, Ctx, HasCommon, Outcome, Run, Tool};
use crate::app::grammar::{DOWN, Op, OpSpec, STATUS};
use crate::clis::gcloud::{self, DockerImage};

#[derive(clap::Parser, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// `.FLAVOR` for the image kas.FLAVOR (default: kas)
    #[arg(value_name = ".FLAVOR", value_parser = parse_flavor)]
    pub flavor: Option<String>,
    /// Delete the image that has this tag (with all its tags)
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Delete every image whose listed line contains this text
    #[arg(long, value_name = "TEXT", value_parser = parse_pattern)]
    pub pattern: Option<String>,
    /// Delete images created before this date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub older_than: Option<String>,
}

impl HasCommon for Args {
    fn common(&self) -> &Common {
        &self.common
    }
}

/// The operation symbols other tools have: the one place `clean-images`
/// takes a free word, `.FLAVOR`, would otherwise call them flavors.
const OTHER_OPERATIONS: [&str; 6] = ["+", "++", "--", ",", "==", "env"];

fn parse_flavor(text: &str) -> Result<String, String> {
    if OTHER_OPERATIONS.contains(&text) {
        return Err(format!(
            "`{text}` is not an operation of clean-images: it has `=` (list) and `-` (delete)"
        ));
    }
    match text.strip_prefix('.') {
        Some(f)
            if !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
        {
            Ok(f.to_string())
        }
        _ => Err(format!(
            "`{text}` is not a flavor: write it as .NAME, for example .dev"
        )),
    }
}

/// An empty or blank pattern is in every line: it would pick every image.
fn parse_pattern(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("an empty or blank pattern matches every image: give the text that the lines to delete contain".into());
    }
    Ok(text.to_string())
}

fn parse_date(text: &str) -> Result<String, String> {
    let shape = text.len() == 10
        && text.char_indices().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let real = shape && {
        let (year, month, day) = (number(0..4), number(5..7), number(8..10));
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        (1..=days).contains(&day)
    };
    if real {
        Ok(text.to_string())
    } else {
        Err(format!("`{text}` is not a date such as 2026-01-31"))
    }
}

pub const OPS: &[OpSpec<Op>] = &[
    OpSpec {
        help: "list the images of kas[.FLAVOR] with their tags",
        ..STATUS
    },
    OpSpec {
        help: "delete the images chosen by --tag, --pattern, --older-than, or asked for",
        ..DOWN
    },
];

pub const TOOL: Tool<Args, Op> = Tool {
    name: "clean-images",
    about: "Remove old images of kas[.FLAVOR] from the project's images repository",
    ops: OPS,
    examples: EXAMPLES,
    run: Run::Shared(run),
};

const EXAMPLES: &str = "\
clean-images =                             # images of kas, with tags and dates
clean-images = .dev                        # images of kas.dev
clean-images - --tag old                   # that tag's image (and its other tags)
clean-images - --older-than 2026-01-01 --quiet
";

/// The image's name in the registry: `kas.image`, with `.FLAVOR`.
pub fn image_name(base: &str, flavor: Option<&str>) -> String {
    match flavor {
        Some(f) => format!("{base}.{f}"),
        None => base.to_string(),
    }
}

/// One line per image, as listed and as matched by `--pattern`.
fn line(image: &DockerImage) -> String {
    let tags = if image.tags.is_empty() {
        "-".to_string()
    } else {
        image.tags.join(",")
    };
    format!("{}  {}  {}", image.version, tags, image.create_time)
}

fn run(ctx: &Ctx, op: Op, args: &Args) -> Result<Outcome> {
    ctx.check_gcloud_configuration()?;
    let path = format!(
        "{}-docker.pkg.dev/{}/{}/{}",
        ctx.artifacts_location()?,
        ctx.project()?,
        ctx.config.registry.images,
        image_name(&ctx.config.kas.image, args.flavor.as_deref())
    );
    let images: Vec<DockerImage> = ctx.run.json(&gcloud::query([
        "artifacts",
        "docker",
        "images",
        "list",
        &path,
        "--include-tags",
    ]))?;
    if op == Op::Status {
        ctx.ui.say(&format!("{path}: {} images", images.len()));
        for image in &images {
            ctx.ui.say(&line(image));
        }
        return Ok(Outcome::Present(!images.is_empty()));
    }
    let chosen = choose(ctx, args, &images)?;
    if chosen.is_empty() {
        ctx.ui.progress("no image matches: nothing to delete");
        return Ok(Outcome::Gone(true));
    }
    let doomed: Vec<String> = chosen.iter().map(|i| line(i)).collect();
    let every = chosen.len() == images.len();
    let latest = chosen.iter().any(|i| i.tags.iter().any(|t| is_latest(t)));
    if (every || latest) && !ctx.quiet() {
        // A plan deletes nothing, so it may show such a deletion.
        ctx.run.for_real(|| {
            let why = if every {
                format!("every image of {path}")
            } else {
                "an image tagged like `latest`".to_string()
            };
            ctx.ui.progress(&format!("this would delete {why}:"));
            for item in &doomed {
                ctx.ui.progress(&format!("  {item}"));
            }
            bail!("nothing was deleted: deleting {why} needs --quiet");
        })?;
    } else {
        ctx.confirm_deletion(&doomed)?;
    }
    for image in chosen {
        ctx.ui.progress(&format!("deleting {}", line(image)));
        ctx.run.check(
            &gcloud::change(["artifacts", "docker", "images", "delete"])
                .arg(format!("{path}@{}", image.version))
                .args(["--delete-tags", "--quiet"]),
        )?;
    }
    Ok(Outcome::Gone(true))
}

/// A tag that other things pull by name: `latest`, `latest-gpu`, `gpu-latest`.
fn is_latest(tag: &str) -> bool {
    tag.to_ascii_lowercase().contains("latest")
}

/// The images the flags pick (all of them must match), or, without flags
/// on a terminal, what the person types: `:TAG` or a pattern.
fn choose<'a>(ctx: &Ctx, args: &Args, images: &'a [DockerImage]) -> Result<Vec<&'a DockerImage>> {
    let (mut tag, mut pattern) = (args.tag.clone(), args.pattern.clone());
    if tag.is_none() && pattern.is_none() && args.older_than.is_none() {
        if !ctx.ui.interactive {
            bail!("say what to delete: --tag TAG, --pattern TEXT or --older-than YYYY-MM-DD");
        }
        for image in images {
            ctx.ui.say(&line(image));
        }
        let answer = ctx.ui.ask(
            "Delete which? `:TAG` for one tag's image, or text that the lines to delete contain:",
        );
        match answer.trim() {
            "" | ":" => return Ok(Vec::new()),
            a => match a.strip_prefix(':') {
                Some(t) => tag = Some(t.to_string()),
                None => pattern = Some(a.to_string()),
            },
        }
    }
    Ok(images
        .iter()
        .filter(|i| tag.as_ref().is_none_or(|t| i.tags.contains(t)))
        .filter(|i| {
            pattern
                .as_ref()
                .is_none_or(|p| line(i).contains(p.as_str()))
        })
        .filter(|i| {
            args.older_than
                .as_ref()
                .is_none_or(|d| i.create_time.as_str() < d.as_str())
        })
        .collect())
}
