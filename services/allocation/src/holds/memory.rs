use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use omni_contracts::events::{HoldLine, Shortage};
use omni_contracts::{LocationId, ReservationId};

use super::{Generation, KeepBack, ReserveOutcome, Snapshot};

#[derive(Default)]
struct Inner {
    loaded: bool,
    generation: Generation,
    on_hand: HashMap<(String, String), i64>,
    reserved: HashMap<(String, String), i64>,
    holds: HashMap<String, (String, Vec<(String, i64)>)>,
}

/// The in-memory hold store: one mutex makes every operation atomic, as the Lua script is in Redis.
#[derive(Clone, Default)]
pub struct MemoryHolds {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryHolds {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied operation: every operation checks before
        // it writes. So a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn generation(&self) -> Generation {
        self.lock().generation
    }

    pub(super) fn take_ahead(
        &self,
        location: &LocationId,
        sku: &str,
        take: crate::domain::TakeAhead,
    ) -> Option<(Generation, i64)> {
        let mut inner = self.lock();
        if !inner.loaded {
            return None;
        }
        let generation = inner.generation;
        let on_hand = inner
            .on_hand
            .entry((location.to_string(), sku.to_owned()))
            .or_default();
        let taken = match take {
            crate::domain::TakeAhead::Nothing => 0,
            crate::domain::TakeAhead::By(units) => units,
            crate::domain::TakeAhead::DownTo(level) => (*on_hand - level).max(0),
        };
        *on_hand -= taken;
        Some((generation, taken))
    }

    pub(super) fn adjust_on_hand(
        &self,
        location: &LocationId,
        sku: &str,
        delta: i64,
        generation: Generation,
    ) {
        let mut inner = self.lock();
        if !inner.loaded || inner.generation != generation {
            return;
        }
        *inner
            .on_hand
            .entry((location.to_string(), sku.to_owned()))
            .or_default() += delta;
    }

    pub(super) fn reserve(
        &self,
        id: ReservationId,
        location: &LocationId,
        lines: &[HoldLine],
        keep_back: &KeepBack,
    ) -> ReserveOutcome {
        let mut inner = self.lock();
        let generation = inner.generation;
        if inner.holds.contains_key(&id.to_string()) {
            return ReserveOutcome::Held { generation };
        }
        let loc = location.to_string();
        let shortages: Vec<Shortage> = lines
            .iter()
            .filter_map(|line| {
                let key = (loc.clone(), line.sku.to_string());
                let available = inner.on_hand.get(&key).copied().unwrap_or(0)
                    - inner.reserved.get(&key).copied().unwrap_or(0)
                    - keep_back.get(&line.sku).copied().unwrap_or(0).max(0);
                let requested = i64::from(line.quantity);
                (available < requested).then(|| Shortage {
                    sku: line.sku.clone(),
                    requested,
                    available: available.max(0),
                })
            })
            .collect();
        if !shortages.is_empty() {
            return ReserveOutcome::Short(shortages);
        }
        let mut held = Vec::with_capacity(lines.len());
        for line in lines {
            let q = i64::from(line.quantity);
            *inner
                .reserved
                .entry((loc.clone(), line.sku.to_string()))
                .or_default() += q;
            held.push((line.sku.to_string(), q));
        }
        inner.holds.insert(id.to_string(), (loc, held));
        ReserveOutcome::Held { generation }
    }

    pub(super) fn commit(&self, id: ReservationId, left: Option<&[(String, i64)]>) {
        let mut inner = self.lock();
        if let Some((loc, lines)) = inner.holds.remove(&id.to_string()) {
            for (sku, q) in lines {
                let gone = left.map_or(q, |left| {
                    left.iter()
                        .find(|(s, _)| *s == sku)
                        .map_or(0, |(_, units)| (*units).min(q))
                });
                *inner.reserved.entry((loc.clone(), sku.clone())).or_default() -= q;
                *inner.on_hand.entry((loc.clone(), sku)).or_default() -= gone;
            }
        }
    }

    pub(super) fn reduce(&self, id: ReservationId, units: &[(String, i64)]) {
        let mut inner = self.lock();
        let Some((loc, mut lines)) = inner.holds.remove(&id.to_string()) else {
            return;
        };
        for (sku, wanted) in units {
            if let Some(line) = lines.iter_mut().find(|(s, _)| s == sku) {
                let take = (*wanted).clamp(0, line.1);
                line.1 -= take;
                *inner.reserved.entry((loc.clone(), sku.clone())).or_default() -= take;
            }
        }
        lines.retain(|(_, q)| *q > 0);
        inner.holds.insert(id.to_string(), (loc, lines));
    }

    pub(super) fn release(&self, id: ReservationId, location: &LocationId) {
        let mut inner = self.lock();
        if let Some((loc, lines)) = inner.holds.remove(&id.to_string()) {
            debug_assert_eq!(loc, location.to_string());
            for (sku, q) in lines {
                *inner.reserved.entry((loc.clone(), sku)).or_default() -= q;
            }
        }
    }

    pub(super) fn levels(&self, location: &LocationId, sku: &str) -> (i64, i64) {
        let inner = self.lock();
        let key = (location.to_string(), sku.to_owned());
        (
            inner.on_hand.get(&key).copied().unwrap_or(0),
            inner.reserved.get(&key).copied().unwrap_or(0),
        )
    }

    pub(super) fn location_levels(
        &self,
        location: &LocationId,
    ) -> std::collections::HashMap<String, (i64, i64)> {
        let inner = self.lock();
        let loc = location.to_string();
        let mut levels: std::collections::HashMap<String, (i64, i64)> = Default::default();
        for ((l, sku), q) in &inner.on_hand {
            if *l == loc {
                levels.entry(sku.clone()).or_default().0 = *q;
            }
        }
        for ((l, sku), q) in &inner.reserved {
            if *l == loc {
                levels.entry(sku.clone()).or_default().1 = *q;
            }
        }
        levels
    }

    pub(super) fn is_loaded(&self) -> bool {
        self.lock().loaded
    }

    pub(super) fn load(&self, snapshot: &Snapshot) {
        let mut inner = self.lock();
        *inner = Inner::default();
        for (loc, sku, q) in &snapshot.on_hand {
            inner.on_hand.insert((loc.clone(), sku.clone()), *q);
        }
        for hold in &snapshot.holds {
            for (sku, q) in &hold.lines {
                *inner
                    .reserved
                    .entry((hold.location.clone(), sku.clone()))
                    .or_default() += q;
            }
            inner
                .holds
                .insert(hold.id.clone(), (hold.location.clone(), hold.lines.clone()));
        }
        inner.generation = snapshot.generation;
        inner.loaded = true;
    }
}
