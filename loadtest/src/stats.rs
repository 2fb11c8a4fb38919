//! Pure helpers for the reports: percentiles, rates, ratios against goals, progress bars.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The nearest-rank percentile (`p` in 0..=1) of ascending `sorted` values: the smallest value with at least
/// `p` of all values at or below it. `None` when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latency samples in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<f64>);

impl Latencies {
    /// Records one sample.
    pub fn record(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64() * 1e3);
    }

    /// Records one sample in milliseconds.
    pub fn record_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Takes another set's samples.
    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// p50, p99 and max, in milliseconds (`None` without samples).
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            p50: percentile(&sorted, 0.50)?,
            p90: percentile(&sorted, 0.90)?,
            p99: percentile(&sorted, 0.99)?,
            max: *sorted.last()?,
        })
    }
}

/// Percentiles of a latency set, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.p50, self.p90, self.p99, self.max
        )
    }
}

/// Events per second.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { count as f64 / secs }
}

/// `numerator ÷ denominator`, or `None` when the denominator measured nothing.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// A verdict column: whether `value` reaches `goal` (at least, or at most when `at_most`).
pub fn verdict(value: Option<f64>, goal: f64, at_most: bool) -> &'static str {
    match value {
        None => "NOT MEASURED",
        Some(v) if (at_most && v <= goal) || (!at_most && v >= goal) => "met",
        Some(_) => "MISSED",
    }
}

/// Busy and total CPU time (in clock ticks, all cores) from the first line of `/proc/stat`.
pub fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// How busy the machine's CPUs were between two points, from `/proc/stat` (Linux only).
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter(Option<(u64, u64)>);

impl CpuMeter {
    /// Starts measuring.
    pub fn start() -> Self {
        Self(read_cpu())
    }

    /// Percent of all cores busy since the start, if `/proc/stat` is readable.
    pub fn busy_percent(&self) -> Option<f64> {
        let (busy0, total0) = self.0?;
        let (busy1, total1) = read_cpu()?;
        let total = total1.checked_sub(total0).filter(|t| *t > 0)?;
        Some(100.0 * busy1.saturating_sub(busy0) as f64 / total as f64)
    }
}

fn read_cpu() -> Option<(u64, u64)> {
    cpu_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`, as printed there ("n/a" elsewhere): how busy the
/// shared machine was around a run.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "n/a".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// A progress bar over `len` steps on stderr (hidden when stderr is not a terminal).
pub fn progress(what: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what:<28} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&values, 1.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        // Three values: the median is the middle one, p99 the largest.
        assert_eq!(percentile(&[1.0, 2.0, 30.0], 0.5), Some(2.0));
        assert_eq!(percentile(&[1.0, 2.0, 30.0], 0.99), Some(30.0));
    }

    #[test]
    fn a_summary_sorts_its_samples_first() {
        let mut latencies = Latencies::default();
        for ms in [5.0, 1.0, 3.0, 2.0, 4.0] {
            latencies.record_ms(ms);
        }
        let summary = latencies.summary().expect("samples");
        assert_eq!((summary.p50, summary.p99, summary.max), (3.0, 5.0, 5.0));
        assert!(Latencies::default().summary().is_none());
    }

    #[test]
    fn ratios_and_verdicts_say_what_was_not_measured() {
        assert_eq!(ratio(10.0, 4.0), Some(2.5));
        assert_eq!(ratio(10.0, 0.0), None);
        assert_eq!(verdict(Some(0.6), 0.5, false), "met");
        assert_eq!(verdict(Some(0.4), 0.5, false), "MISSED");
        assert_eq!(verdict(Some(9.0), 10.0, true), "met");
        assert_eq!(verdict(None, 10.0, true), "NOT MEASURED");
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
    }

    #[test]
    fn cpu_ticks_count_idle_and_iowait_as_not_busy() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";
        assert_eq!(cpu_ticks(stat), Some((150, 1000)));
        assert_eq!(cpu_ticks("intr 1 2 3"), None);
    }
}
