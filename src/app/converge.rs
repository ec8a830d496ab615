//! Resources that converge: a tool is an ordered list of pieces, each of
//! which knows whether it is there and how to make or remove itself. `+`
//! walks forward creating what is absent, `-` walks backward deleting what
//! is present, `=` reports. A failure names the piece; a rerun finishes.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::exec::runner::Runner;

/// What is known of a piece before acting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Present,
    Absent,
    /// Not looked at (for example: it lives inside a cluster that is not
    /// there, or looking would need the network); the text says why.
    Unknown(String),
}

type Action<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;
type Probe<'a> = Box<dyn FnOnce() -> Result<bool> + 'a>;

pub struct Piece<'a> {
    pub name: String,
    pub state: State,
    /// Looks when the walk reaches the piece, for pieces that can only be
    /// seen once the ones before them exist (credentials, say).
    probe: Option<Probe<'a>>,
    create: Option<Action<'a>>,
    delete: Option<Action<'a>>,
}

impl<'a> Piece<'a> {
    pub fn new(name: impl Into<String>, present: bool) -> Piece<'a> {
        Piece {
            name: name.into(),
            state: if present {
                State::Present
            } else {
                State::Absent
            },
            probe: None,
            create: None,
            delete: None,
        }
    }

    /// A piece whose presence is looked at only when the walk gets there.
    pub fn probed(name: impl Into<String>, probe: impl FnOnce() -> Result<bool> + 'a) -> Piece<'a> {
        Piece {
            name: name.into(),
            state: State::Unknown("not looked at yet".into()),
            probe: Some(Box::new(probe)),
            create: None,
            delete: None,
        }
    }

    /// Runs the probe, if any. In a plan a probe that cannot look (the
    /// pieces before it were only planned) counts as absent.
    fn settle(&mut self, run: &Runner) -> Result<()> {
        if let Some(probe) = self.probe.take() {
            let present = run
                .look_after_plan(&self.name, probe)
                .with_context(|| format!("could not check {}", self.name))?;
            self.state = if present {
                State::Present
            } else {
                State::Absent
            };
        }
        Ok(())
    }

    pub fn create(mut self, action: impl FnOnce() -> Result<()> + 'a) -> Piece<'a> {
        self.create = Some(Box::new(action));
        self
    }

    pub fn delete(mut self, action: impl FnOnce() -> Result<()> + 'a) -> Piece<'a> {
        self.delete = Some(Box::new(action));
        self
    }

    pub fn is_present(&self) -> bool {
        self.state == State::Present
    }
}

/// Creates, in order, every piece that is not known to be present.
pub fn up(run: &Runner, pieces: Vec<Piece<'_>>) -> Result<()> {
    let ui = &run.ui;
    for mut piece in pieces {
        piece.settle(run)?;
        match (&piece.state, piece.create) {
            (State::Present, _) => ui.progress(&format!("ok       {}", piece.name)),
            (_, Some(create)) => {
                ui.progress(&format!("creating {}", piece.name));
                create().with_context(|| format!("could not create {}", piece.name))?;
            }
            (_, None) => {}
        }
    }
    Ok(())
}

/// Deletes, in reverse order, every piece that is not known to be absent.
pub fn down(run: &Runner, pieces: Vec<Piece<'_>>) -> Result<()> {
    let ui = &run.ui;
    for mut piece in pieces.into_iter().rev() {
        piece.settle(run)?;
        match (&piece.state, piece.delete) {
            (State::Absent, _) => ui.progress(&format!("gone     {}", piece.name)),
            (_, Some(delete)) => {
                ui.progress(&format!("deleting {}", piece.name));
                delete().with_context(|| format!("could not delete {}", piece.name))?;
            }
            (_, None) => {}
        }
    }
    Ok(())
}

/// One line of a status report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    pub piece: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Row {
    pub fn new(piece: impl Into<String>, state: State) -> Row {
        Row {
            piece: piece.into(),
            state,
            detail: None,
        }
    }

    pub fn present(piece: impl Into<String>, present: bool) -> Row {
        let state = if present {
            State::Present
        } else {
            State::Absent
        };
        Row::new(piece, state)
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Row {
        self.detail = Some(detail.into());
        self
    }
}

pub fn rows(pieces: &[Piece<'_>]) -> Vec<Row> {
    pieces
        .iter()
        .map(|p| Row::new(p.name.clone(), p.state.clone()))
        .collect()
}

/// The rows as a table a person reads at a glance.
pub fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.piece.len()).max().unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        let (mark, word) = match &row.state {
            State::Present => ("+", "present".to_string()),
            State::Absent => ("-", "absent".to_string()),
            State::Unknown(why) => ("?", format!("unknown ({why})")),
        };
        out.push_str(&format!("{mark} {:<width$}  {word}", row.piece));
        if let Some(detail) = &row.detail {
            out.push_str(&format!("  {detail}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::sync::Arc;

    use crate::exec::cmd::Cmd;
    use crate::exec::runner::{Exec, Output};
    use crate::exec::ui::Ui;

    struct Nothing;
    impl Exec for Nothing {
        fn exec(&self, _: &Cmd) -> Result<Output> {
            anyhow::bail!("no command runs here")
        }
    }

    fn runner(planning: bool) -> (Arc<Ui>, Runner) {
        let ui = Arc::new(Ui::buffered());
        (
            ui.clone(),
            Runner::with(Arc::new(Nothing), ui, planning, false),
        )
    }

    fn record(done: &RefCell<Vec<&'static str>>, what: &'static str) -> Result<()> {
        done.borrow_mut().push(what);
        Ok(())
    }

    #[test]
    fn up_creates_only_what_is_absent_and_down_reverses() {
        let (_, run) = runner(false);
        let done = RefCell::new(Vec::new());
        let pieces = |a: bool, b: bool| {
            vec![
                Piece::new("a", a)
                    .create(|| record(&done, "+a"))
                    .delete(|| record(&done, "-a")),
                Piece::new("b", b)
                    .create(|| record(&done, "+b"))
                    .delete(|| record(&done, "-b")),
            ]
        };
        up(&run, pieces(true, false)).unwrap();
        down(&run, pieces(true, true)).unwrap();
        assert_eq!(*done.borrow(), vec!["+b", "-b", "-a"]);
    }

    #[test]
    fn a_failure_names_the_piece() {
        let (_, run) = runner(false);
        let pieces = vec![Piece::new("firewall rule x", false).create(|| anyhow::bail!("boom"))];
        let err = up(&run, pieces).unwrap_err();
        assert_eq!(format!("{err:#}"), "could not create firewall rule x: boom");
    }

    #[test]
    fn a_probe_that_cannot_look_yet_counts_as_absent_only_in_a_plan() {
        let blind =
            || Piece::probed("credentials", || anyhow::bail!("no cluster")).create(|| Ok(()));
        let (ui, plan) = runner(true);
        up(&plan, vec![blind()]).unwrap();
        assert_eq!(
            ui.lines(),
            vec![
                "> cannot look at credentials before the steps above ran: no cluster",
                "> creating credentials"
            ]
        );
        let (_, real) = runner(false);
        let err = up(&real, vec![blind()]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "could not check credentials: no cluster"
        );
    }
}
