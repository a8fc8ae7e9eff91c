//! The printed report: one row per figure, with the design target beside the figures that have
//! one, and the number formats the rows share.

use std::time::Duration;

/// One printed figure.
pub struct Row {
    scenario: &'static str,
    figure: String,
    value: String,
    /// The design target and whether this run met it, e.g. "≤ 100 ms — met".
    target: Option<String>,
}

impl Row {
    pub fn new(scenario: &'static str, figure: impl Into<String>, value: impl Into<String>) -> Row {
        Row {
            scenario,
            figure: figure.into(),
            value: value.into(),
            target: None,
        }
    }

    /// Adds the design target `goal` (as printed, e.g. "≥ 15,000/s") and whether it was met.
    pub fn goal(mut self, goal: &str, met: bool) -> Row {
        let verdict = if met { "met" } else { "MISSED" };
        self.target = Some(format!("{goal} — {verdict}"));
        self
    }
}

pub fn print(rows: &[Row]) {
    println!();
    println!(
        "{:<10} {:<80} {:<36} design target",
        "scenario", "figure", "value"
    );
    for r in rows {
        let line = format!(
            "{:<10} {:<80} {:<36} {}",
            r.scenario,
            r.figure,
            r.value,
            r.target.as_deref().unwrap_or("")
        );
        println!("{}", line.trim_end());
    }
}

pub fn per_sec(rate: f64) -> String {
    format!("{rate:.0}/s")
}

pub fn with_ratio(rate: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(b) => format!("{rate:.0}/s ({:.2} × baseline)", rate / b),
        None => per_sec(rate),
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
