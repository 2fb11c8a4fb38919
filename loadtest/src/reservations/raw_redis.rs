//! The Redis baseline: `redis-benchmark` calling EVALSHA of allocation's own reserve script
//! (`omni_allocation::holds::RESERVE_SCRIPT`) with the same keys and arguments allocation passes: a unique
//! reservation key per call and three 1-unit lines on SKUs that have plenty on hand, so every call takes the
//! script's write path (checked afterwards from the reserved hash).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::{HOT_SKU, LOCATION, Shape, sku_name};
use crate::backends::RunRedis;

/// What one redis-benchmark run did.
#[derive(Debug, Clone)]
pub(crate) struct RawRun {
    /// EVALSHA calls made.
    pub calls: u64,
    /// Calls per second, as redis-benchmark reports them.
    pub per_sec: f64,
    /// Latency percentiles redis-benchmark reports (ms): p50, p99, max.
    pub p50: f64,
    /// 99th percentile (ms).
    pub p99: f64,
    /// Holds the script placed (from the reserved hash), to show the calls took the write path.
    pub held: u64,
    /// Wall-clock time of the process.
    pub elapsed: Duration,
    /// The command line, to reproduce it.
    pub command: String,
}

/// Runs `redis-benchmark` (`bin`) with `clients` connections for `requests` calls of the reserve script.
pub(crate) fn run(
    redis: &RunRedis,
    bin: &Path,
    shape: Shape,
    clients: usize,
    requests: u64,
    skus: u32,
) -> anyhow::Result<RawRun> {
    let (host, port) = redis.host_port()?;
    let mut conn = redis::Client::open(redis.url.as_str())?.get_connection()?;
    let base = format!("{}:raw", redis.prefix);
    let onhand = format!("{base}:{{{LOCATION}}}:onhand");
    let reserved = format!("{base}:{{{LOCATION}}}:reserved");
    // The store's generation for the location, as a load sets it: the script stamps each hold with it.
    let generation = format!("{base}:{{{LOCATION}}}:gen");
    // Far more on hand than the run can take: no call goes short.
    let mut fill = redis::pipe();
    for chunk in (0..skus).collect::<Vec<_>>().chunks(500) {
        let mut hset = redis::cmd("HSET");
        hset.arg(&onhand);
        for i in chunk {
            hset.arg(sku_name(*i)).arg(1_000_000_000_i64);
        }
        fill.add_command(hset).ignore();
    }
    fill.cmd("HSET")
        .arg(&onhand)
        .arg(HOT_SKU)
        .arg(1_000_000_000_i64)
        .ignore();
    fill.cmd("DEL").arg(&reserved).ignore();
    fill.cmd("SET").arg(&generation).arg(1).ignore();
    let () = fill.query(&mut conn)?;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(omni_allocation::holds::RESERVE_SCRIPT)
        .query(&mut conn)?;

    // __rand_int__ becomes a 12-digit number below -r, each occurrence drawn on its own: one per SKU line, and
    // enough of them in the reservation key that it is unique per call.
    let placeholders = reservation_placeholders(skus);
    let reservation = format!(
        "{base}:{{{LOCATION}}}:res:{}",
        vec!["__rand_int__"; placeholders].join(":")
    );
    let random_sku = format!("{}__rand_int__", super::SKU_PREFIX);
    let lines: [&str; 3] = match shape {
        Shape::Hot => [HOT_SKU, &random_sku, &random_sku],
        Shape::Random => [&random_sku, &random_sku, &random_sku],
    };
    let mut args: Vec<String> = vec![
        "-h".into(),
        host,
        "-p".into(),
        port.to_string(),
        "-c".into(),
        clients.to_string(),
        "-n".into(),
        requests.to_string(),
        "-r".into(),
        skus.to_string(),
        "--csv".into(),
        "EVALSHA".into(),
        sha,
        "4".into(),
        onhand,
        reserved.clone(),
        reservation,
        generation,
        "3".into(),
    ];
    for sku in lines {
        args.extend([sku.to_owned(), "1".into(), "0".into()]);
    }
    let command = format!("{} {}", bin.display(), args.join(" "));

    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    // Bounded in time as well as in calls: a stuck run is killed.
    let limit = Duration::from_secs(120).max(Duration::from_millis(requests / 2));
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            bail!("redis-benchmark did not finish within {limit:?}: {command}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output()?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "redis-benchmark failed ({}): {}{}",
        output.status,
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let (per_sec, p50, p99) =
        parse_csv(&stdout).with_context(|| format!("unexpected redis-benchmark output: {stdout}"))?;
    let held: Vec<i64> = redis::cmd("HVALS").arg(&reserved).query(&mut conn)?;
    let held = held.iter().sum::<i64>().max(0) as u64 / 3;
    redis.delete("raw:*")?;
    Ok(RawRun {
        calls: requests,
        per_sec,
        p50,
        p99,
        held,
        elapsed,
        command,
    })
}

/// How many `__rand_int__` (each below `skus`) make a reservation key space of at least 10^12.
pub(crate) fn reservation_placeholders(skus: u32) -> usize {
    let mut space: u128 = 1;
    let mut n = 0;
    while space < 1_000_000_000_000 && n < 16 {
        space *= u128::from(skus.max(2));
        n += 1;
    }
    n
}

/// rps, p50 and p99 (ms) from `redis-benchmark --csv` output (a header line, then one line per test).
pub(crate) fn parse_csv(output: &str) -> Option<(f64, f64, f64)> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = split_csv(lines.next()?);
    let row: Vec<String> = split_csv(lines.next()?);
    let field = |name: &str| -> Option<f64> {
        let i = header.iter().position(|h| h == name)?;
        row.get(i)?.parse().ok()
    };
    Some((field("rps")?, field("p50_latency_ms")?, field("p99_latency_ms")?))
}

/// Splits one line of quoted CSV fields; the test name may contain commas inside its quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_benchmark_csv_gives_rate_and_percentiles() {
        let output = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                      \"EVALSHA abc 3 k1 k2 k:__rand_int__, odd\",\"81234.50\",\"0.372\",\"0.080\",\"0.351\",\"0.599\",\"0.807\",\"3.103\"\n";
        assert_eq!(parse_csv(output), Some((81234.5, 0.351, 0.807)));
        assert_eq!(parse_csv("Error: connection refused\n"), None);
    }

    #[test]
    fn reservation_keys_have_room_for_a_trillion_holds() {
        assert_eq!(reservation_placeholders(1000), 4);
        assert_eq!(reservation_placeholders(1_000_000), 2);
        assert_eq!(reservation_placeholders(10), 12);
        assert!(reservation_placeholders(1) <= 16);
    }
}
