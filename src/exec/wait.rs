//! Waiting as the runner's business: for real it polls a probe (a spinner
//! with the elapsed time on a terminal, plain lines without one); in a plan
//! nothing was changed, so nothing is awaited and the wait is one line.

use std::time::{Duration, Instant};

use anyhow::Result;

pub use crate::exec::ui::show;

use crate::exec::runner::Runner;

/// How long to wait, and how often to look.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    pub timeout: Duration,
    pub interval: Duration,
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited<T> {
    /// The probe answered.
    Done(T),
    /// The timeout passed first.
    TimedOut,
    /// A plan: the wait was printed, not made.
    Planned,
}

impl Runner {
    /// Asks `probe` until it returns `Some` or `patience.timeout` passes.
    /// A plan prints `# wait up to TIMEOUT for WHAT` instead.
    pub fn wait<T>(
        &self,
        what: &str,
        patience: Patience,
        mut probe: impl FnMut() -> Result<Option<T>>,
    ) -> Result<Waited<T>> {
        if self.planning() {
            self.ui.plan(&format!(
                "# wait up to {} for {what}",
                show(patience.timeout)
            ));
            return Ok(Waited::Planned);
        }
        let start = Instant::now();
        let spinner = self.ui.spinner(&format!("waiting for {what}"));
        if spinner.is_none() {
            self.ui.progress(&format!(
                "waiting for {what} (up to {})",
                show(patience.timeout)
            ));
        }
        let mut next_probe = start;
        loop {
            if Instant::now() >= next_probe {
                if let Some(found) = probe()? {
                    drop(spinner);
                    self.ui.progress(&format!(
                        "done waiting for {what} ({})",
                        show(start.elapsed())
                    ));
                    return Ok(Waited::Done(found));
                }
                if start.elapsed() >= patience.timeout {
                    return Ok(Waited::TimedOut);
                }
                next_probe = Instant::now() + patience.interval;
            }
            let slice = match &spinner {
                Some(s) => {
                    s.tick();
                    Duration::from_millis(100)
                }
                None => patience.interval,
            };
            std::thread::sleep(slice.min(next_probe.saturating_duration_since(Instant::now())));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::exec::cmd::Cmd;
    use crate::exec::runner::{Exec, Output};
    use crate::exec::ui::Ui;

    struct Nothing;
    impl Exec for Nothing {
        fn exec(&self, _: &Cmd) -> Result<Output> {
            anyhow::bail!("no command runs here")
        }
    }

    fn patience() -> Patience {
        Patience {
            timeout: Duration::from_secs(600),
            interval: Duration::ZERO,
        }
    }

    #[test]
    fn a_plan_prints_the_wait_as_one_line_and_asks_nothing() {
        let ui = Arc::new(Ui::buffered());
        let runner = Runner::with(Arc::new(Nothing), ui.clone(), true, false);
        let waited = runner
            .wait("the head pod", patience(), || -> Result<Option<()>> {
                panic!("a plan does not poll")
            })
            .unwrap();
        assert_eq!(waited, Waited::Planned);
        assert_eq!(ui.lines(), vec!["# wait up to 10m for the head pod"]);
    }

    #[test]
    fn for_real_it_polls_until_the_probe_answers() {
        let ui = Arc::new(Ui::buffered());
        let runner = Runner::with(Arc::new(Nothing), ui.clone(), false, false);
        let mut asked = 0;
        let waited = runner
            .wait("the head pod", patience(), || {
                asked += 1;
                Ok((asked == 3).then_some("head-0"))
            })
            .unwrap();
        assert_eq!(waited, Waited::Done("head-0"));
        assert_eq!(asked, 3);
        assert_eq!(
            ui.lines(),
            vec![
                "> waiting for the head pod (up to 10m)",
                "> done waiting for the head pod (0s)"
            ]
        );
    }

    #[test]
    fn it_gives_up_after_the_timeout() {
        let runner = Runner::with(Arc::new(Nothing), Arc::new(Ui::buffered()), false, false);
        let short = Patience {
            timeout: Duration::ZERO,
            interval: Duration::ZERO,
        };
        let waited = runner.wait("x", short, || Ok(None::<()>)).unwrap();
        assert_eq!(waited, Waited::TimedOut);
    }
}
