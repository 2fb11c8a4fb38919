//! The SKUs and locations the catalog announced, as far as this process has met them, so that a hold asks the
//! database only about one it has not met yet (DESIGN §4: no database read on the hold path). The catalog only ever
//! adds, so an entry here is never stale; a miss asks the database (another replica's consumer may have recorded
//! it) and remembers the answer if it is yes. Bounded: past [`MAX_ENTRIES`] nothing more is remembered (those holds
//! ask the database, as before).

use std::collections::HashSet;
use std::sync::RwLock;

use omni_contracts::{LocationId, Sku};

/// Most SKUs, and most locations, remembered.
pub const MAX_ENTRIES: usize = 1_000_000;

/// What this process knows the catalog announced.
#[derive(Debug, Default)]
pub struct Known {
    skus: RwLock<HashSet<String>>,
    locations: RwLock<HashSet<String>>,
}

impl Known {
    /// Whether every SKU of `skus` and `location` are known here.
    pub fn all(&self, location: &LocationId, skus: &[&Sku]) -> bool {
        let known_location = read(&self.locations).contains(location.as_str());
        known_location && {
            let known = read(&self.skus);
            skus.iter().all(|sku| known.contains(sku.as_str()))
        }
    }

    /// Remembers SKUs the catalog announced.
    pub fn remember_skus<'a>(&self, skus: impl IntoIterator<Item = &'a Sku>) {
        remember(&self.skus, skus.into_iter().map(Sku::as_str));
    }

    /// Remembers a location the catalog announced.
    pub fn remember_location(&self, location: &LocationId) {
        remember(&self.locations, [location.as_str()]);
    }
}

fn read(set: &RwLock<HashSet<String>>) -> std::sync::RwLockReadGuard<'_, HashSet<String>> {
    // Every write is a single insert: a poisoned lock still holds a consistent set.
    set.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn remember<'a>(set: &RwLock<HashSet<String>>, entries: impl IntoIterator<Item = &'a str>) {
    let entries: Vec<&str> = entries.into_iter().collect();
    let all_known = {
        let known = read(set);
        entries.iter().all(|e| known.contains(*e))
    };
    if all_known {
        return;
    }
    let mut set = set.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    for entry in entries {
        if set.len() >= MAX_ENTRIES {
            return;
        }
        set.insert(entry.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_only_when_the_location_and_every_sku_were_remembered() {
        let known = Known::default();
        let (shop, tee, cap) = (
            LocationId::parse("S1").unwrap_or_else(|e| panic!("{e}")),
            Sku::parse("TEE").unwrap_or_else(|e| panic!("{e}")),
            Sku::parse("CAP").unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(!known.all(&shop, &[&tee]));
        known.remember_skus([&tee]);
        assert!(!known.all(&shop, &[&tee]), "the location is not known yet");
        known.remember_location(&shop);
        assert!(known.all(&shop, &[&tee]));
        assert!(!known.all(&shop, &[&tee, &cap]), "one SKU unknown");
        known.remember_skus([&cap]);
        assert!(known.all(&shop, &[&tee, &cap]));
    }
}
