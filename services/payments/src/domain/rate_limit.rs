//! A token bucket: detokenization is rate-limited so a runaway loop or a compromised caller cannot drain the
//! vault quickly. The clock is passed in, so the logic is testable without sleeping.

use std::time::{Duration, Instant};

/// Allows bursts of `capacity` calls and `per_second` calls a second sustained.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    available: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket at `now`.
    pub fn new(capacity: u32, per_second: u32, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_second: f64::from(per_second.max(1)),
            available: capacity,
            last: now,
        }
    }

    /// A full bucket at `now` refilling `per_minute` permits a minute (for slow limits such as wrong guesses).
    pub fn per_minute(capacity: u32, per_minute: u32, now: Instant) -> Self {
        Self {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            ..Self::new(capacity, 1, now)
        }
    }

    /// Gives back `n` permits taken (up to the capacity).
    pub fn give_back(&mut self, n: u32) {
        self.available = (self.available + f64::from(n)).min(self.capacity);
    }

    /// Takes `n` permits at `now` if they are all available; otherwise takes none and says how long to wait.
    pub fn try_acquire(&mut self, n: u32, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.available = (self.available + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        let wanted = f64::from(n);
        if wanted <= self.available {
            self.available -= wanted;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((wanted - self.available) / self.per_second).min(3600.0),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_capacity_is_refused_until_the_bucket_refills() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(3, 10, start);
        assert!(limiter.try_acquire(2, start).is_ok());
        assert!(limiter.try_acquire(1, start).is_ok());
        let wait = limiter.try_acquire(1, start).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limiter.try_acquire(1, start + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn an_idle_bucket_never_holds_more_than_its_capacity() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(2, 100, start);
        let later = start + Duration::from_secs(60);
        assert!(limiter.try_acquire(2, later).is_ok());
        assert!(limiter.try_acquire(1, later).is_err());
    }
}
