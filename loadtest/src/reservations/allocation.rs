//! Omni's side: 3-line checkout holds through allocation's HTTP API (`POST /v1/reservations`), each then
//! released at once (`DELETE`) or left to expire, from concurrent keep-alive clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use omni_testkit::testing::ADMIN_KEY;
use rand::Rng;

use super::{Load, Shape};
use crate::stats::{Latencies, progress};

/// What one run of holds did.
#[derive(Debug, Default)]
pub(crate) struct HoldRun {
    /// Holds placed (201).
    pub held: u64,
    /// Refused for want of stock (409).
    pub short: u64,
    /// Any other answer or a transport error.
    pub failed: u64,
    /// Holds released again by the client.
    pub released: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Latency of each `POST /v1/reservations` (not of the releases).
    pub latency: Latencies,
    /// The first unexpected answer, to show.
    pub first_error: Option<String>,
}

#[derive(Debug, Default)]
struct Tally {
    held: u64,
    short: u64,
    failed: u64,
    released: u64,
    latency: Latencies,
    first_error: Option<String>,
}

/// Runs `load.clients` clients against allocation at `base` for `seconds` (at most `load.max_requests` holds).
pub(crate) async fn run(
    base: &str,
    shape: Shape,
    load: &Load,
    seconds: u64,
    label: &str,
) -> anyhow::Result<HoldRun> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.clients)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let issued = Arc::new(AtomicU64::new(0));
    let held = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let bar = progress(label, seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.clients {
        let (http, issued, held_so_far) = (http.clone(), issued.clone(), held.clone());
        let (url, skus, ttl, release_percent, max) = (
            format!("{base}/v1/reservations"),
            load.skus,
            load.ttl_seconds,
            load.release_percent,
            load.max_requests,
        );
        workers.spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let id = uuid::Uuid::now_v7();
                let (body, release) = {
                    let mut rng = rand::rng();
                    let [a, b, c] = shape.lines(&mut rng, skus);
                    let body = format!(
                        r#"{{"reservation_id":"{id}","location_id":"{location}","channel":"web","lines":[{{"sku":"{a}","quantity":1}},{{"sku":"{b}","quantity":1}},{{"sku":"{c}","quantity":1}}],"ttl_seconds":{ttl}}}"#,
                        location = super::LOCATION
                    );
                    (body, rng.random_range(0..100) < release_percent)
                };
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .bearer_auth(ADMIN_KEY)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await;
                let status = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        if !matches!(status, 200 | 201 | 409) && tally.first_error.is_none() {
                            tally.first_error = Some(format!("{status}: {text}"));
                        }
                        status
                    }
                    Err(e) => {
                        tally.first_error.get_or_insert_with(|| e.to_string());
                        0
                    }
                };
                tally.latency.record(sent.elapsed());
                match status {
                    200 | 201 => {
                        tally.held += 1;
                        held_so_far.fetch_add(1, Ordering::Relaxed);
                        if release {
                            let released = http
                                .delete(format!("{url}/{id}"))
                                .bearer_auth(ADMIN_KEY)
                                .send()
                                .await;
                            match released {
                                Ok(r) if r.status().as_u16() == 204 => tally.released += 1,
                                Ok(r) => {
                                    let status = r.status().as_u16();
                                    tally
                                        .first_error
                                        .get_or_insert_with(|| format!("release answered {status}"));
                                }
                                Err(e) => {
                                    tally.first_error.get_or_insert_with(|| e.to_string());
                                }
                            }
                        }
                    }
                    409 => tally.short += 1,
                    _ => tally.failed += 1,
                }
            }
            tally
        });
    }
    let ticker = {
        let (bar, held) = (bar.clone(), held.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let elapsed = started.elapsed();
                bar.set_position(elapsed.as_secs().min(bar.length().unwrap_or(0)));
                bar.set_message(format!(
                    "{} holds, {:.0}/s",
                    held.load(Ordering::Relaxed),
                    crate::stats::rate(held.load(Ordering::Relaxed), elapsed)
                ));
            }
        })
    };
    let mut run = HoldRun::default();
    while let Some(tally) = workers.join_next().await {
        let tally = tally.context("a client task failed")?;
        run.held += tally.held;
        run.short += tally.short;
        run.failed += tally.failed;
        run.released += tally.released;
        run.latency.merge(tally.latency);
        if run.first_error.is_none() {
            run.first_error = tally.first_error;
        }
    }
    run.elapsed = started.elapsed();
    ticker.abort();
    bar.finish_and_clear();
    Ok(run)
}

/// Picks `n` distinct indexes below `len` (n ≤ len).
pub(crate) fn distinct(rng: &mut impl Rng, len: u32, n: usize) -> Vec<u32> {
    rand::seq::index::sample(rng, len as usize, n)
        .into_iter()
        .map(|i| i as u32)
        .collect()
}
