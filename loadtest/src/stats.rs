//! Pure helpers for the reports: percentiles, rates, ratios against goals, progress bars.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The nearest-rank percentile (`p` in 0..=1) of ascending `sorted` values: the smallest value with at least
/// `p` of all values at or below it. `None` when there are none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Latency samples in milliseconds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies(Vec<f64>);

impl Latencies {
    /// Records one sample.
    pub(crate) fn record(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64() * 1e3);
    }

    /// Records one sample in milliseconds.
    pub(crate) fn record_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Takes another set's samples.
    pub(crate) fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// p50, p99 and max, in milliseconds (`None` without samples).
    pub(crate) fn summary(&self) -> Option<Summary> {
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
pub(crate) struct Summary {
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
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { count as f64 / secs }
}

/// `numerator ÷ denominator`, or `None` when the denominator measured nothing.
pub(crate) fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// A verdict column: whether `value` reaches `goal` (at least, or at most when `at_most`).
pub(crate) fn verdict(value: Option<f64>, goal: f64, at_most: bool) -> &'static str {
    match value {
        None => "NOT MEASURED",
        Some(v) if (at_most && v <= goal) || (!at_most && v >= goal) => "met",
        Some(_) => "MISSED",
    }
}

/// Busy and total CPU time (in clock ticks, all cores) from the first line of `/proc/stat`.
pub(crate) fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// How busy the machine's CPUs were between two points, from `/proc/stat` (Linux only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMeter(Option<(u64, u64)>);

impl CpuMeter {
    /// Starts measuring.
    pub(crate) fn start() -> Self {
        Self(read_cpu())
    }

    /// Percent of all cores busy since the start, if `/proc/stat` is readable.
    pub(crate) fn busy_percent(&self) -> Option<f64> {
        let (busy0, total0) = self.0?;
        let (busy1, total1) = read_cpu()?;
        let total = total1.checked_sub(total0).filter(|t| *t > 0)?;
        Some(100.0 * busy1.saturating_sub(busy0) as f64 / total as f64)
    }
}

/// A process's command name and CPU time (user + system, all its threads, in clock ticks) from its
/// `/proc/<pid>/stat` line. The name is in parentheses and may itself hold spaces or parentheses: the fields
/// after it are counted from the last `)`.
pub(crate) fn process_ticks(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    // After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15).
    let mut rest = stat.get(close + 1..)?.split_whitespace().skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some((name, utime + stime))
}

/// Clock ticks per second in `/proc`'s times (`USER_HZ`: 100 on every Linux architecture Omni builds for).
const TICKS_PER_SECOND: f64 = 100.0;

/// Each process's command name and CPU ticks at one instant (seconds since the Unix epoch).
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcessSnapshot {
    /// When it was read.
    pub at: f64,
    /// Per pid: command name and ticks so far.
    pub ticks: HashMap<u32, (String, u64)>,
    /// The whole machine's busy and total ticks so far (all cores), from `/proc/stat`.
    pub machine: Option<(u64, u64)>,
}

impl ProcessSnapshot {
    /// Reads every process in `/proc` (Linux only; empty elsewhere).
    pub(crate) fn read() -> Self {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Self {
            at,
            ticks: read_processes(),
            machine: read_cpu(),
        }
    }
}

/// How the CPUs were used between two snapshots: the cores busy in all (from `/proc/stat`, when both have it) and
/// each program's share, in cores (1.0: one core all the time), most first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Usage {
    /// Cores busy, whatever ran on them.
    pub busy_cores: Option<f64>,
    /// Cores each program used, most first.
    pub by_program: Vec<(String, f64)>,
}

/// [`Usage`] from `before` to `after`.
pub(crate) fn usage_between(before: &ProcessSnapshot, after: &ProcessSnapshot) -> Usage {
    let seconds = after.at - before.at;
    if seconds <= 0.0 {
        return Usage {
            busy_cores: None,
            by_program: Vec::new(),
        };
    }
    let cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds;
    let busy_cores = match (before.machine, after.machine) {
        // `/proc/stat` adds up every core's busy ticks.
        (Some((busy0, _)), Some((busy1, _))) => Some(cores(busy1.saturating_sub(busy0))),
        _ => None,
    };
    let by_program = ticks_between(before, after)
        .into_iter()
        .map(|(name, ticks)| (name.to_owned(), cores(ticks)))
        .collect();
    Usage {
        busy_cores,
        by_program: most_first(by_program),
    }
}

/// Clock ticks each program spent from `before` to `after`. A process started in between counts from zero; one that
/// ended in between is not counted.
fn ticks_between<'a>(before: &ProcessSnapshot, after: &'a ProcessSnapshot) -> HashMap<&'a str, u64> {
    let mut by_command: HashMap<&str, u64> = HashMap::new();
    for (pid, (name, ticks)) in &after.ticks {
        let earlier = before
            .ticks
            .get(pid)
            .filter(|(n, _)| n == name)
            .map_or(0, |(_, t)| *t);
        *by_command.entry(name).or_default() += ticks.saturating_sub(earlier);
    }
    by_command
}

/// The programs that spent any time, most first (then by name, so equal figures print in a stable order).
fn most_first(seconds: HashMap<String, f64>) -> Vec<(String, f64)> {
    let mut seconds: Vec<(String, f64)> = seconds.into_iter().filter(|(_, s)| *s > 0.0).collect();
    seconds.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    seconds
}

/// CPU seconds each program spent from `from` to `to` (seconds since the Unix epoch), most first, from snapshots in
/// time order: each interval between two snapshots counts by the share of it inside the span, as if the CPU was
/// spent evenly over it. (Reading `/proc` for every process costs a few milliseconds, so snapshots come a tenth of
/// a second apart; a short span would be overstated by most of an interval at each end without this.)
pub(crate) fn spent_over(snapshots: &[ProcessSnapshot], from: f64, to: f64) -> Vec<(String, f64)> {
    let mut by_command: HashMap<String, f64> = HashMap::new();
    for pair in snapshots.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let length = after.at - before.at;
        let inside = after.at.min(to) - before.at.max(from);
        if length <= 0.0 || inside <= 0.0 {
            continue;
        }
        for (name, ticks) in ticks_between(before, after) {
            *by_command.entry(name.to_owned()).or_default() +=
                ticks as f64 / TICKS_PER_SECOND * inside / length;
        }
    }
    most_first(by_command)
}

/// The program a process name stands for: a kernel worker's name changes with the work it does
/// (`kworker/u8:2-writeback`), so every kernel worker is `kworker`.
pub(crate) fn program(name: &str) -> &str {
    if name.starts_with("kworker/") {
        "kworker"
    } else {
        name
    }
}

fn read_processes() -> HashMap<u32, (String, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (name, ticks) = process_ticks(&stat)?;
            Some((pid, (program(&name).to_owned(), ticks)))
        })
        .collect()
}

fn read_cpu() -> Option<(u64, u64)> {
    cpu_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`, as printed there ("n/a" elsewhere): how busy the
/// shared machine was around a run.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "n/a".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

/// A progress bar over `len` steps on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(what: &str, len: u64) -> ProgressBar {
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
    fn a_process_stat_line_gives_its_name_and_user_plus_system_ticks() {
        let stat =
            "4242 (postgres) S 1 4242 4242 0 -1 4194560 900 0 3 0 1500 250 0 0 20 0 1 0 77 2000000 500";
        assert_eq!(process_ticks(stat), Some(("postgres".to_owned(), 1750)));
        // A name with a space and a parenthesis in it.
        let stat = "7 (tokio (rt) x) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 9 0 5 0 0";
        assert_eq!(process_ticks(stat), Some(("tokio (rt) x".to_owned(), 15)));
        assert_eq!(process_ticks("7 (short) R 1"), None);
    }

    fn snapshot(at: f64, processes: &[(u32, &str, u64)]) -> ProcessSnapshot {
        ProcessSnapshot {
            at,
            ticks: processes
                .iter()
                .map(|(pid, name, t)| (*pid, ((*name).to_owned(), *t)))
                .collect(),
            machine: None,
        }
    }

    #[test]
    fn cpu_spent_is_summed_by_program_counting_new_processes_from_zero() {
        let before = snapshot(
            10.0,
            &[
                (1, "postgres", 100),
                (2, "postgres", 50),
                (3, "nisshi", 7),
                (4, "idle", 9),
            ],
        );
        // pid 2 ended, pid 5 started, pid 4 spent nothing, and pid 3 is now another program (pid reused).
        let after = snapshot(
            11.0,
            &[
                (1, "postgres", 160),
                (5, "postgres", 30),
                (3, "omni", 20),
                (4, "idle", 9),
            ],
        );
        assert_eq!(
            spent_over(&[before, after], 10.0, 11.0),
            vec![("postgres".to_owned(), 0.9), ("omni".to_owned(), 0.2)]
        );
    }

    #[test]
    fn kernel_workers_are_one_program_whatever_they_work_on() {
        assert_eq!(program("kworker/u8:2-writeback"), "kworker");
        assert_eq!(program("kworker/0:1H-kblockd"), "kworker");
        assert_eq!(program("postgres"), "postgres");
    }

    #[test]
    fn cpu_over_a_span_counts_each_interval_by_its_share_inside() {
        let snapshots = [
            snapshot(1.0, &[(1, "postgres", 0)]),
            snapshot(2.0, &[(1, "postgres", 100)]),
            snapshot(3.0, &[(1, "postgres", 300)]),
        ];
        // Half of the first second (0.5 s of 1 s busy) and a quarter of the next (0.5 s of 2 s).
        assert_eq!(
            spent_over(&snapshots, 1.5, 2.25),
            vec![("postgres".to_owned(), 1.0)]
        );
        // The whole span, and a span beyond the snapshots counts what they saw.
        assert_eq!(
            spent_over(&snapshots, 0.0, 9.0),
            vec![("postgres".to_owned(), 3.0)]
        );
        assert!(spent_over(&snapshots[..1], 0.0, 9.0).is_empty());
    }

    #[test]
    fn usage_is_in_cores_over_the_interval() {
        let mut before = snapshot(10.0, &[(1, "postgres", 100), (2, "omni", 40)]);
        let mut after = snapshot(10.5, &[(1, "postgres", 140), (2, "omni", 50)]);
        // Without `/proc/stat`, the busy cores are unknown.
        assert_eq!(usage_between(&before, &after).busy_cores, None);
        before.machine = Some((1_000, 5_000));
        after.machine = Some((1_070, 5_100));
        let usage = usage_between(&before, &after);
        // 70 busy ticks in half a second: 1.4 cores.
        assert!(usage.busy_cores.is_some_and(|c| (c - 1.4).abs() < 1e-9));
        assert_eq!(
            usage.by_program,
            vec![("postgres".to_owned(), 0.8), ("omni".to_owned(), 0.2)]
        );
        assert_eq!(usage_between(&after, &before).by_program, Vec::new());
    }

    #[test]
    fn cpu_ticks_count_idle_and_iowait_as_not_busy() {
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n";
        assert_eq!(cpu_ticks(stat), Some((150, 1000)));
        assert_eq!(cpu_ticks("intr 1 2 3"), None);
    }
}
