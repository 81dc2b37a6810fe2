//! Progress of a run on stderr: a live block of stage lines on a terminal (redrawn as
//! stages start and finish), plain lines otherwise, nothing with `--quiet`. What stages
//! print goes to stdout, whole, with the live block cleared around it.

use std::io::Write;
use std::time::{Duration, Instant};

use aqueducts_runtime::Event;

enum State {
    Running(Instant),
    Done { rows: Option<u64>, elapsed: Duration },
}

pub struct Progress {
    mode: Mode,
    stages: Vec<(String, State)>,
    /// Lines of the live block currently on screen.
    drawn: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Lines,
    Quiet,
}

impl Progress {
    pub fn new(mode: Mode) -> Self {
        Progress { mode, stages: Vec::new(), drawn: 0 }
    }

    /// A line about the run as a whole (queue position, interruption), unless quiet.
    pub fn note(&mut self, text: &str) {
        if self.mode == Mode::Quiet {
            return;
        }
        self.clear();
        eprintln!("{text}");
        self.draw();
    }

    pub fn on_event(&mut self, event: Event) {
        match event {
            Event::StageOutput { text, .. } => {
                self.clear();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
                self.draw();
            }
            Event::StageStarted { stage } => {
                if self.mode == Mode::Lines {
                    eprintln!("stage `{stage}`: running");
                }
                self.stages.push((stage, State::Running(Instant::now())));
                self.redraw();
            }
            Event::StageFinished { stage, rows, elapsed } => {
                if self.mode == Mode::Lines {
                    eprintln!("{}", done_line(&stage, rows, elapsed));
                }
                if let Some(entry) = self.stages.iter_mut().find(|(name, _)| *name == stage) {
                    entry.1 = State::Done { rows, elapsed };
                }
                self.redraw();
            }
            Event::OutputWritten { path, rows, .. } => {
                if self.mode != Mode::Quiet {
                    self.clear();
                    eprintln!("wrote {rows} rows to {path}");
                    self.draw();
                }
            }
        }
    }

    /// Leaves the final state of the block on screen.
    pub fn finish(&mut self) {
        self.drawn = 0;
    }

    fn redraw(&mut self) {
        self.clear();
        self.draw();
    }

    fn clear(&mut self) {
        if self.mode == Mode::Live && self.drawn > 0 {
            eprint!("\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self) {
        if self.mode != Mode::Live {
            return;
        }
        let block = render_block(&self.stages);
        eprint!("{block}");
        self.drawn = block.lines().count();
    }
}

fn done_line(stage: &str, rows: Option<u64>, elapsed: Duration) -> String {
    match rows {
        Some(rows) => format!("stage `{stage}`: done, {rows} rows in {}", seconds(elapsed)),
        None => format!("stage `{stage}`: done in {}", seconds(elapsed)),
    }
}

fn render_block(stages: &[(String, State)]) -> String {
    let mut out = String::new();
    for (name, state) in stages {
        let line = match state {
            State::Running(since) => format!("  … stage `{name}`: running ({})", seconds(since.elapsed())),
            State::Done { rows, elapsed } => format!("  ✓ {}", done_line(name, *rows, *elapsed)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) { format!("{} ms", d.as_millis()) } else { format!("{:.2} s", d.as_secs_f64()) }
}

/// `1 stage`, `2 stages`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_shows_running_and_finished_stages() {
        let stages = vec![
            ("a".to_string(), State::Done { rows: Some(84), elapsed: Duration::from_millis(12) }),
            ("b".to_string(), State::Done { rows: None, elapsed: Duration::from_millis(1500) }),
            ("c".to_string(), State::Running(Instant::now())),
        ];
        let block = render_block(&stages);
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], "  ✓ stage `a`: done, 84 rows in 12 ms");
        assert_eq!(lines[1], "  ✓ stage `b`: done in 1.50 s");
        assert!(lines[2].starts_with("  … stage `c`: running ("), "{}", lines[2]);
    }
}
