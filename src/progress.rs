//! Progress of a long offline command (`souverain meta rebuild`) on standard error: a bar
//! redrawn in place on a terminal; otherwise (a log file, a pipe) a line each time a phase
//! advances by a tenth, so the output stays short. Hand-written rather than a crate: one bar,
//! no styles, and it must never fail the command it reports on.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Bar width in characters.
const WIDTH: usize = 30;
/// Counted phases (no total) print a line every this many items off a terminal.
const COUNT_STEP: u64 = 10_000;

/// A reporter: `(phase, done, total)`; `total` 0 means unknown (a counter is shown).
pub fn reporter() -> impl Fn(&'static str, u64, u64) + Send + Sync {
    let terminal = std::io::stderr().is_terminal();
    let last: Mutex<(&'static str, u64)> = Mutex::new(("", u64::MAX));
    move |phase, done, total| {
        let Ok(mut last) = last.lock() else { return };
        let step = match (terminal, total) {
            (true, _) => done,
            (false, 0) => done / COUNT_STEP,
            (false, _) => done.saturating_mul(10) / total,
        };
        let finished = total > 0 && done >= total;
        if (phase, step) == *last && !finished {
            return;
        }
        *last = (phase, step);
        let line = render(phase, done, total);
        let mut err = std::io::stderr().lock();
        // Progress output is best effort: a closed stderr must not stop a rebuild.
        let _ = if terminal { write!(err, "\r{line}") } else { writeln!(err, "{line}") };
        if terminal && finished {
            let _ = writeln!(err);
        }
    }
}

/// One progress line: `segments [#########.....] 1200/2539` or `objects 1200`.
fn render(phase: &str, done: u64, total: u64) -> String {
    if total == 0 {
        return format!("{phase} {done}");
    }
    let filled = usize::try_from(done.min(total).saturating_mul(WIDTH as u64) / total).unwrap_or(WIDTH);
    let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
    format!("{phase} [{bar}] {done}/{total}")
}

#[cfg(test)]
mod tests {
    use super::render;

    /// Promise: the bar is as full as the phase is done, and an unknown total shows a count.
    #[test]
    fn the_bar_fills_with_the_phase() {
        assert_eq!(render("segments", 0, 10), format!("segments [{}] 0/10", ".".repeat(30)));
        assert_eq!(render("segments", 5, 10), format!("segments [{}{}] 5/10", "#".repeat(15), ".".repeat(15)));
        assert_eq!(render("segments", 12, 10), format!("segments [{}] 12/10", "#".repeat(30)));
        assert_eq!(render("objects", 1200, 0), "objects 1200");
    }
}
