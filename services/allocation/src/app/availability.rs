//! What each channel may sell: the ledger's ATP per location less what buffer and segment rules withhold.
//! Reads the database (in the caller's connection); the rules themselves are in [`crate::domain::policy`].

use omni_contracts::Envelope;
use omni_contracts::events::{AvailabilityChanged, AvailabilityEvent};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use omni_contracts::api::CustomerTier;
use omni_contracts::api::{Channel, LocationAvailability, LocationOffer};
use omni_contracts::events::{ChannelAvailability, ChannelLocation, FencedAvailability};
use omni_contracts::policies::{Effect, Segment};
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use crate::db::{catalog, ledger};
use crate::domain::policy::{Caller, LocationFacts, PolicySet, SkuFacts};
use crate::holds::KeepBack;

/// Every channel, in the order availability events list them.
pub const CHANNELS: [Channel; 5] = [
    Channel::Web,
    Channel::App,
    Channel::Pos,
    Channel::Social,
    Channel::Marketplace,
];

/// Everything needed to apply rules to one SKU at every location that stocks it.
#[derive(Debug, Clone)]
pub struct SkuPicture {
    /// The SKU.
    pub sku: Sku,
    /// Ledger levels per location.
    pub levels: Vec<LocationAvailability>,
    tags: Vec<String>,
    locations: BTreeMap<LocationId, LocationFacts>,
    /// Units sold per location and velocity window.
    sold: BTreeMap<LocationId, BTreeMap<u32, i64>>,
}

impl SkuPicture {
    /// Reads the SKU's levels and, when any rule could concern it, what rules match on.
    pub fn read(
        conn: &mut DbConnection,
        policies: &PolicySet,
        sku: &Sku,
        now: DateTime<Utc>,
    ) -> omni_db::Result<Self> {
        let levels = ledger::availability(conn, sku)?;
        let mut picture = Self {
            sku: sku.clone(),
            levels,
            tags: Vec::new(),
            locations: BTreeMap::new(),
            sold: BTreeMap::new(),
        };
        if policies.iter().next().is_none() {
            return Ok(picture);
        }
        picture.tags = catalog::tags_of(conn, sku)?;
        if !policies.iter().any(|p| p.concerns_sku(sku, &picture.tags)) {
            return Ok(picture);
        }
        picture.locations = catalog::location_facts(conn)?
            .into_iter()
            .map(|l| (l.id.clone(), l))
            .collect();
        for window in policies.velocity_windows() {
            let since = (now - chrono::Duration::minutes(i64::from(window))).naive_utc();
            for (location, units) in ledger::sold_since(conn, sku, since)? {
                if let Ok(id) = LocationId::parse(&location) {
                    picture.sold.entry(id).or_default().insert(window, units);
                }
            }
        }
        Ok(picture)
    }

    fn withheld(
        &self,
        policies: &PolicySet,
        level: &LocationAvailability,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> crate::domain::policy::Withholding {
        let Some(location) = self.locations.get(&level.location_id) else {
            return Default::default();
        };
        let no_sales = BTreeMap::new();
        let facts = SkuFacts {
            sku: &self.sku,
            tags: &self.tags,
            sold: self.sold.get(&level.location_id).unwrap_or(&no_sales),
        };
        policies.withheld(&facts, location, caller, level.on_hand, now)
    }

    /// What `caller` may sell at each location.
    pub fn offers(&self, policies: &PolicySet, caller: &Caller, now: DateTime<Utc>) -> Vec<LocationOffer> {
        self.levels
            .iter()
            .map(|level| {
                let withheld = self.withheld(policies, level, caller, now);
                LocationOffer {
                    location_id: level.location_id.clone(),
                    on_hand: level.on_hand,
                    reserved: level.reserved,
                    atp: level.atp,
                    available: withheld.available(level.atp),
                    rules: withheld.rules,
                }
            })
            .collect()
    }

    /// What each channel may sell, for standard customers in no segment (what availability events carry).
    pub fn channels(&self, policies: &PolicySet, now: DateTime<Utc>) -> Vec<ChannelAvailability> {
        CHANNELS
            .iter()
            .map(|channel| {
                let offers = self.offers(policies, &Caller::standard(*channel), now);
                let mut rules: Vec<_> = offers
                    .iter()
                    .flat_map(|o| o.rules.iter().map(|r| r.id.clone()))
                    .collect();
                rules.sort();
                rules.dedup();
                ChannelAvailability {
                    channel: *channel,
                    available: offers.iter().map(|o| o.available).sum(),
                    locations: offers
                        .into_iter()
                        .filter(|o| o.available > 0)
                        .map(|o| ChannelLocation {
                            location_id: o.location_id,
                            available: o.available,
                        })
                        .collect(),
                    rules,
                }
            })
            .collect()
    }
}

/// The callers ring-fences can favour, beyond a channel's standard customer: a VIP (by tier), a pre-order, a
/// curbside pickup, and a VIP's pre-order or curbside pickup.
const FENCED_CALLERS: [(CustomerTier, Option<Segment>); 5] = [
    (CustomerTier::Vip, None),
    (CustomerTier::Standard, Some(Segment::Preorder)),
    (CustomerTier::Standard, Some(Segment::Curbside)),
    (CustomerTier::Vip, Some(Segment::Preorder)),
    (CustomerTier::Vip, Some(Segment::Curbside)),
];

impl SkuPicture {
    /// What each favoured caller may sell on each channel, where it differs from the channel's standard
    /// figure (`standard`, from [`SkuPicture::channels`]); nothing when no ring-fence concerns the SKU.
    pub fn fenced(
        &self,
        policies: &PolicySet,
        standard: &[ChannelAvailability],
        now: DateTime<Utc>,
    ) -> Vec<FencedAvailability> {
        let fences = policies
            .iter()
            .any(|p| matches!(p.spec.effect, Effect::RingFence(_)) && p.concerns_sku(&self.sku, &self.tags));
        if !fences {
            return Vec::new();
        }
        let mut fenced = Vec::new();
        for channel in standard {
            for (tier, segment) in FENCED_CALLERS {
                let caller = Caller {
                    channel: channel.channel,
                    tier,
                    segment,
                };
                let locations: Vec<ChannelLocation> = self
                    .offers(policies, &caller, now)
                    .into_iter()
                    .filter(|o| o.available > 0)
                    .map(|o| ChannelLocation {
                        location_id: o.location_id,
                        available: o.available,
                    })
                    .collect();
                if locations != channel.locations {
                    fenced.push(FencedAvailability {
                        channel: channel.channel,
                        tier,
                        segment,
                        locations,
                    });
                }
            }
        }
        fenced
    }
}

/// Units the rules keep from `caller` at `location` for each SKU of a hold (SKUs no rule touches are absent).
pub fn keep_back(
    conn: &mut DbConnection,
    policies: &PolicySet,
    location: &LocationId,
    skus: &[&Sku],
    caller: &Caller,
    now: DateTime<Utc>,
) -> omni_db::Result<KeepBack> {
    let mut keep = KeepBack::new();
    if policies.iter().next().is_none() {
        return Ok(keep);
    }
    for sku in skus {
        let picture = SkuPicture::read(conn, policies, sku, now)?;
        let level = picture
            .levels
            .iter()
            .find(|l| l.location_id == *location)
            .cloned()
            .unwrap_or(LocationAvailability {
                location_id: location.clone(),
                on_hand: 0,
                reserved: 0,
                atp: 0,
            });
        let units = picture.withheld(policies, &level, caller, now).units;
        if units > 0 {
            keep.insert((*sku).clone(), units);
        }
    }
    Ok(keep)
}

/// Notes, in the caller's transaction, that the availability of `sku` changed; the publisher sends it after
/// the commit (call `State::changed` then).
pub fn availability_changed(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<()> {
    crate::db::marks::mark(conn, sku)
}

/// Writes the current availability of `sku` to the outbox, per location and per channel under `policies`, in
/// the caller's transaction.
pub fn publish_availability(conn: &mut DbConnection, policies: &PolicySet, sku: &Sku) -> omni_db::Result<()> {
    let now = chrono::Utc::now();
    let picture = SkuPicture::read(conn, policies, sku, now)?;
    let channels = picture.channels(policies, now);
    let fenced = picture.fenced(policies, &channels, now);
    let event = AvailabilityEvent::Changed(AvailabilityChanged {
        sku: sku.clone(),
        channels,
        fenced,
        locations: picture.levels,
        computed_at: now,
    });
    omni_kafka::outbox::enqueue(conn, &Envelope::new("allocation", event))
}
