//! Resources that converge: a tool is an ordered list of pieces, each of
//! which knows whether it is there and how to make or remove itself. `+`
//! walks forward creating what is absent, `-` walks backward deleting what
//! is present, `=` reports. A failure names the piece; a rerun finishes.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::exec::ui::Ui;

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

    /// Runs the probe, if any. Under `--dry-run` a probe that cannot look
    /// (the pieces before it were only planned) counts as absent.
    fn settle(&mut self, ui: &Ui, dry_run: bool) -> Result<()> {
        if let Some(probe) = self.probe.take() {
            self.state = match probe() {
                Ok(true) => State::Present,
                Ok(false) => State::Absent,
                Err(e) if dry_run => {
                    ui.progress(&format!(
                        "cannot look at {} before the steps above ran: {e:#}",
                        self.name
                    ));
                    State::Absent
                }
                Err(e) => return Err(e.context(format!("could not check {}", self.name))),
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
/// `dry_run` tells probes that earlier pieces were only planned.
pub fn up(ui: &Ui, pieces: Vec<Piece<'_>>, dry_run: bool) -> Result<()> {
    for mut piece in pieces {
        piece.settle(ui, dry_run)?;
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
pub fn down(ui: &Ui, pieces: Vec<Piece<'_>>, dry_run: bool) -> Result<()> {
    for mut piece in pieces.into_iter().rev() {
        piece.settle(ui, dry_run)?;
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

    fn record(done: &RefCell<Vec<&'static str>>, what: &'static str) -> Result<()> {
        done.borrow_mut().push(what);
        Ok(())
    }

    #[test]
    fn up_creates_only_what_is_absent_and_down_reverses() {
        let ui = Ui::buffered();
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
        up(&ui, pieces(true, false), false).unwrap();
        down(&ui, pieces(true, true), false).unwrap();
        assert_eq!(*done.borrow(), vec!["+b", "-b", "-a"]);
    }

    #[test]
    fn a_failure_names_the_piece() {
        let ui = Ui::buffered();
        let pieces = vec![Piece::new("firewall rule x", false).create(|| anyhow::bail!("boom"))];
        let err = up(&ui, pieces, false).unwrap_err();
        assert_eq!(format!("{err:#}"), "could not create firewall rule x: boom");
    }
}
