//! Buffer and segment policies, without I/O: checking a rule, deciding whether it matches one SKU at one
//! location for one caller, and combining the matching rules into the units withheld.
//!
//! Precedence (also in `docs/POLICIES.md`):
//! 1. Disabled rules and rules with any condition not met are skipped.
//! 2. Hold-backs: only the matching hold-backs of the highest priority count, and of those the one that withholds
//!    most (percentages are of on-hand, rounded up). Hold-backs never add up: "2 units always, 3 in a storm"
//!    withholds 3 in a storm.
//! 3. Ring-fences: per segment the same (highest priority, then most); fences of different segments add up. A
//!    caller in the segment is not kept from its own fence.
//! 4. What the caller may sell at a location is `max(0, ATP − hold-back − fences of other segments)`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use omni_contracts::api::{Channel, CustomerTier};
use omni_contracts::policies::{AppliedRule, Conditions, Effect, PolicySpec, Segment, WeatherCondition};
use omni_contracts::{LocationId, PolicyId, Sku};

/// Longest velocity window: 30 days.
pub const MAX_VELOCITY_WINDOW_MINUTES: u32 = 43_200;
/// Largest unit count a rule may withhold.
pub const MAX_UNITS: u32 = 1_000_000;
/// Priorities run from `-MAX_PRIORITY` to `MAX_PRIORITY`.
pub const MAX_PRIORITY: i32 = 1_000;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// Who is asking: a channel, a customer tier and maybe a segment (a VIP is always in the `vip` segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The selling channel.
    pub channel: Channel,
    /// The customer's tier.
    pub tier: CustomerTier,
    /// A segment the request belongs to (pre-order, curbside).
    pub segment: Option<Segment>,
}

impl Caller {
    /// A standard customer on `channel`, in no segment: what availability events describe.
    pub fn standard(channel: Channel) -> Self {
        Self {
            channel,
            tier: CustomerTier::Standard,
            segment: None,
        }
    }

    fn in_segment(&self, segment: Segment) -> bool {
        self.segment == Some(segment) || (segment == Segment::Vip && self.tier == CustomerTier::Vip)
    }
}

/// What rules need to know of a location.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationFacts {
    /// The location.
    pub id: LocationId,
    /// Its catalog region.
    pub region: Option<String>,
    /// Its time zone (UTC when the catalog's is unknown to the tz database).
    pub timezone: Tz,
    /// The last weather signal and until when it holds.
    pub weather: Option<(WeatherCondition, Option<DateTime<Utc>>)>,
}

impl LocationFacts {
    /// The weather now: the last signal while it is valid, else none.
    fn weather_at(&self, now: DateTime<Utc>) -> Option<WeatherCondition> {
        self.weather
            .and_then(|(condition, until)| until.is_none_or(|u| now < u).then_some(condition))
    }
}

/// What rules need to know of a SKU at a location, besides the location.
#[derive(Debug, Clone, Copy)]
pub struct SkuFacts<'a> {
    /// The SKU.
    pub sku: &'a Sku,
    /// Its catalog tags.
    pub tags: &'a [String],
    /// Units sold at the location within each velocity window rules use (minutes → units).
    pub sold: &'a BTreeMap<u32, i64>,
}

/// A rule ready to evaluate: its spec, version and parsed time window.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPolicy {
    /// The rule as written.
    pub spec: PolicySpec,
    /// Its version.
    pub version: i64,
    window: Option<(NaiveTime, NaiveTime)>,
}

/// A policy that breaks a rule; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPolicy(pub String);

impl From<&str> for InvalidPolicy {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

impl CompiledPolicy {
    /// Checks and compiles a rule.
    pub fn new(spec: PolicySpec, version: i64) -> Result<Self, InvalidPolicy> {
        check(&spec)?;
        let window = match &spec.when.local_time {
            Some(w) => Some((
                parse_time("when.local_time.from", &w.from)?,
                parse_time("when.local_time.to", &w.to)?,
            )),
            None => None,
        };
        Ok(Self {
            spec,
            version,
            window,
        })
    }

    /// Whether the rule can concern `sku` with `tags` at all (its SKU conditions only).
    pub fn concerns_sku(&self, sku: &Sku, tags: &[String]) -> bool {
        let when = &self.spec.when;
        when.skus.as_ref().is_none_or(|skus| skus.contains(sku))
            && when
                .sku_tags
                .as_ref()
                .is_none_or(|wanted| wanted.iter().any(|t| tags.contains(t)))
    }

    /// Whether the rule's conditions that change with the clock or the weather (time window, dates, weather)
    /// hold at the location now. Rules without such conditions are always "on".
    pub fn scheduled_on(&self, location: &LocationFacts, now: DateTime<Utc>) -> bool {
        let when = &self.spec.when;
        let local = now.with_timezone(&location.timezone);
        let in_window = self.window.is_none_or(|(from, to)| {
            let t = local.time();
            if from < to {
                from <= t && t < to
            } else {
                t >= from || t < to
            }
        });
        let in_dates = when
            .dates
            .as_ref()
            .is_none_or(|d| (d.from..=d.to).contains(&local.date_naive()));
        let weather_matches = when
            .weather
            .as_ref()
            .is_none_or(|wanted| location.weather_at(now).is_some_and(|w| wanted.contains(&w)));
        in_window && in_dates && weather_matches
    }

    /// Whether the rule's clock or weather conditions exist at all (only those rules need re-checking as time
    /// passes).
    pub fn is_scheduled(&self) -> bool {
        let when = &self.spec.when;
        when.local_time.is_some() || when.dates.is_some() || when.weather.is_some()
    }

    /// Whether every condition holds for this SKU at this location for this caller now.
    pub fn matches(
        &self,
        sku: &SkuFacts<'_>,
        location: &LocationFacts,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> bool {
        let when = &self.spec.when;
        self.spec.enabled
            && self.concerns_sku(sku.sku, sku.tags)
            && when.locations.as_ref().is_none_or(|l| l.contains(&location.id))
            && when
                .regions
                .as_ref()
                .is_none_or(|r| location.region.as_ref().is_some_and(|have| r.contains(have)))
            && when.channels.as_ref().is_none_or(|c| c.contains(&caller.channel))
            && when
                .customer_tiers
                .as_ref()
                .is_none_or(|t| t.contains(&caller.tier))
            && when
                .velocity
                .as_ref()
                .is_none_or(|v| sku.sold.get(&v.window_minutes).copied().unwrap_or(0) >= i64::from(v.units))
            && self.scheduled_on(location, now)
    }
}

fn parse_time(field: &str, raw: &str) -> Result<NaiveTime, InvalidPolicy> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .map_err(|_| {
            InvalidPolicy(format!(
                "{field}: `{raw}` is not a time of day such as `18:00` or `18:00:30`"
            ))
        })
}

/// The checks every rule passes wherever it comes from: no empty lists (they could never match), sane
/// amounts, windows and ranges that are not empty, nothing that contradicts itself.
pub fn check(spec: &PolicySpec) -> Result<(), InvalidPolicy> {
    if spec.description.len() > MAX_DESCRIPTION {
        return Err(InvalidPolicy(format!(
            "description: at most {MAX_DESCRIPTION} characters"
        )));
    }
    if spec.priority.abs() > MAX_PRIORITY {
        return Err(InvalidPolicy(format!(
            "priority: must be between -{MAX_PRIORITY} and {MAX_PRIORITY}, got {}",
            spec.priority
        )));
    }
    check_conditions(&spec.when)?;
    match &spec.effect {
        Effect::HoldBack(amount) => check_amount("effect.hold_back", *amount, 0)?,
        Effect::RingFence(fence) => {
            check_amount("effect.ring_fence.amount", fence.amount, 1)?;
            if fence.segment == Segment::Vip
                && spec
                    .when
                    .customer_tiers
                    .as_ref()
                    .is_some_and(|t| t.iter().all(|t| *t == CustomerTier::Vip))
            {
                return Err(
                    "when.customer_tiers: a VIP ring-fence that applies only to VIP customers withholds nothing \
                     from anyone; drop the condition or add `standard`"
                        .into(),
                );
            }
        }
    }
    Ok(())
}

fn check_conditions(when: &Conditions) -> Result<(), InvalidPolicy> {
    fn non_empty<T>(field: &str, list: &Option<Vec<T>>) -> Result<(), InvalidPolicy> {
        match list {
            Some(l) if l.is_empty() => Err(InvalidPolicy(format!(
                "{field}: an empty list can never match; leave it out to match all"
            ))),
            Some(l) if l.len() > 1_000 => Err(InvalidPolicy(format!("{field}: at most 1,000 entries"))),
            _ => Ok(()),
        }
    }
    non_empty("when.skus", &when.skus)?;
    non_empty("when.sku_tags", &when.sku_tags)?;
    non_empty("when.locations", &when.locations)?;
    non_empty("when.regions", &when.regions)?;
    non_empty("when.channels", &when.channels)?;
    non_empty("when.customer_tiers", &when.customer_tiers)?;
    non_empty("when.weather", &when.weather)?;
    for (field, list) in [("when.sku_tags", &when.sku_tags), ("when.regions", &when.regions)] {
        if let Some(bad) = list
            .iter()
            .flatten()
            .find(|t| t.trim().is_empty() || t.len() > 64)
        {
            return Err(InvalidPolicy(format!(
                "{field}: `{bad}` must be 1 to 64 characters"
            )));
        }
    }
    if let Some(w) = &when.local_time {
        let (from, to) = (
            parse_time("when.local_time.from", &w.from)?,
            parse_time("when.local_time.to", &w.to)?,
        );
        if from == to {
            return Err("when.local_time: `from` equals `to`, so the window is empty".into());
        }
    }
    if let Some(d) = &when.dates
        && d.from > d.to
    {
        return Err(InvalidPolicy(format!(
            "when.dates: `from` ({}) is after `to` ({})",
            d.from, d.to
        )));
    }
    if let Some(v) = &when.velocity {
        if v.window_minutes == 0 || v.window_minutes > MAX_VELOCITY_WINDOW_MINUTES {
            return Err(InvalidPolicy(format!(
                "when.velocity.window_minutes: 1 to {MAX_VELOCITY_WINDOW_MINUTES}, got {}",
                v.window_minutes
            )));
        }
        if v.units == 0 {
            return Err("when.velocity.units: at least 1 (0 would always match; leave velocity out)".into());
        }
    }
    Ok(())
}

fn check_amount(
    field: &str,
    amount: omni_contracts::policies::Amount,
    min: u32,
) -> Result<(), InvalidPolicy> {
    use omni_contracts::policies::Amount;
    match amount {
        Amount::Units(u) if u < min || u > MAX_UNITS => Err(InvalidPolicy(format!(
            "{field}.units: {min} to {MAX_UNITS}, got {u}"
        ))),
        Amount::Percent(p) if p < min.max(1) || p > 100 => Err(InvalidPolicy(format!(
            "{field}.percent: {} to 100, got {p}",
            min.max(1)
        ))),
        _ => Ok(()),
    }
}

/// Checks a rule against what the catalog knows: SKUs and locations it names exist, and its SKU, tag, location
/// and region conditions can all be met by one SKU at one location. `skus` maps SKU → tags, `locations`
/// location → region.
pub fn check_reachable(
    spec: &PolicySpec,
    skus: &BTreeMap<String, Vec<String>>,
    locations: &BTreeMap<String, Option<String>>,
) -> Result<(), InvalidPolicy> {
    let when = &spec.when;
    if let Some((i, unknown)) = when
        .skus
        .iter()
        .flatten()
        .enumerate()
        .find(|(_, s)| !skus.contains_key(s.as_str()))
    {
        return Err(InvalidPolicy(format!("when.skus[{i}]: unknown SKU `{unknown}`")));
    }
    if let Some((i, unknown)) = when
        .locations
        .iter()
        .flatten()
        .enumerate()
        .find(|(_, l)| !locations.contains_key(l.as_str()))
    {
        return Err(InvalidPolicy(format!(
            "when.locations[{i}]: unknown location `{unknown}`"
        )));
    }
    let sku_ok = |sku: &str, tags: &[String]| {
        when.skus
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x.as_str() == sku))
            && when
                .sku_tags
                .as_ref()
                .is_none_or(|t| t.iter().any(|x| tags.contains(x)))
    };
    if (when.skus.is_some() || when.sku_tags.is_some()) && !skus.iter().any(|(s, tags)| sku_ok(s, tags)) {
        return Err(match &when.skus {
            Some(_) => "when.sku_tags: none of the SKUs in `when.skus` carries any of these tags".into(),
            None => "when.sku_tags: no SKU in the catalog carries any of these tags".into(),
        });
    }
    let location_ok = |id: &str, region: &Option<String>| {
        when.locations
            .as_ref()
            .is_none_or(|l| l.iter().any(|x| x.as_str() == id))
            && when
                .regions
                .as_ref()
                .is_none_or(|r| region.as_ref().is_some_and(|have| r.contains(have)))
    };
    if when.regions.is_some() && !locations.iter().any(|(id, region)| location_ok(id, region)) {
        return Err(match &when.locations {
            Some(_) => "when.regions: none of the locations in `when.locations` is in these regions".into(),
            None => "when.regions: no location in the catalog is in these regions".into(),
        });
    }
    Ok(())
}

/// The rules in force, sorted by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
}

impl PolicySet {
    /// A set of compiled rules.
    pub fn new(mut policies: Vec<CompiledPolicy>) -> Self {
        policies.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        Self { policies }
    }

    /// Every rule.
    pub fn iter(&self) -> impl Iterator<Item = &CompiledPolicy> {
        self.policies.iter()
    }

    /// The velocity windows rules use (what [`SkuFacts::sold`] must carry).
    pub fn velocity_windows(&self) -> BTreeSet<u32> {
        self.policies
            .iter()
            .filter_map(|p| p.spec.when.velocity.as_ref().map(|v| v.window_minutes))
            .collect()
    }

    /// Ids of the rules whose clock or weather conditions hold at the location now (see
    /// [`CompiledPolicy::scheduled_on`]); when this changes, availability must be published again.
    pub fn scheduled_state(&self, location: &LocationFacts, now: DateTime<Utc>) -> BTreeSet<PolicyId> {
        self.policies
            .iter()
            .filter(|p| p.spec.enabled && p.is_scheduled() && p.scheduled_on(location, now))
            .map(|p| p.spec.id.clone())
            .collect()
    }

    /// Ids of rules that differ between two sets (added, removed or changed).
    pub fn changed_since<'a>(&'a self, before: &'a PolicySet) -> Vec<&'a CompiledPolicy> {
        let mut changed: Vec<&CompiledPolicy> = self
            .policies
            .iter()
            .filter(|p| !before.policies.contains(p))
            .collect();
        changed.extend(
            before
                .policies
                .iter()
                .filter(|p| !self.policies.iter().any(|q| q.spec.id == p.spec.id)),
        );
        changed
    }

    /// The units withheld from `caller` of a SKU at a location, and the rules that withheld them.
    pub fn withheld(
        &self,
        sku: &SkuFacts<'_>,
        location: &LocationFacts,
        caller: &Caller,
        on_hand: i64,
        now: DateTime<Utc>,
    ) -> Withholding {
        let matching: Vec<&CompiledPolicy> = self
            .policies
            .iter()
            .filter(|p| p.matches(sku, location, caller, now))
            .collect();
        let amount = |a: omni_contracts::policies::Amount| match a {
            omni_contracts::policies::Amount::Units(u) => i64::from(u),
            omni_contracts::policies::Amount::Percent(p) => (on_hand.max(0) * i64::from(p) + 99) / 100,
        };
        let mut rules = Vec::new();
        let hold_backs = matching
            .iter()
            .filter_map(|p| match p.spec.effect {
                Effect::HoldBack(a) => Some((*p, amount(a))),
                Effect::RingFence(_) => None,
            })
            .collect();
        if let Some((p, units)) = strongest(hold_backs) {
            rules.push((p, units));
        }
        let fenced_segments: BTreeSet<Segment> = matching
            .iter()
            .filter_map(|p| match &p.spec.effect {
                Effect::RingFence(f) => Some(f.segment),
                Effect::HoldBack(_) => None,
            })
            .collect();
        for segment in fenced_segments {
            if caller.in_segment(segment) {
                continue;
            }
            let fences = matching
                .iter()
                .filter_map(|p| match &p.spec.effect {
                    Effect::RingFence(f) if f.segment == segment => Some((*p, amount(f.amount))),
                    _ => None,
                })
                .collect();
            if let Some((p, units)) = strongest(fences) {
                rules.push((p, units));
            }
        }
        Withholding {
            units: rules.iter().map(|(_, u)| u).sum(),
            rules: rules
                .into_iter()
                .filter(|(_, u)| *u > 0)
                .map(|(p, withheld)| AppliedRule {
                    id: p.spec.id.clone(),
                    version: p.version,
                    withheld,
                })
                .collect(),
        }
    }
}

/// The strongest of competing rules: highest priority, then most units; the id breaks ties so the answer never
/// depends on load order.
fn strongest(candidates: Vec<(&CompiledPolicy, i64)>) -> Option<(&CompiledPolicy, i64)> {
    candidates.into_iter().max_by(|(a, ua), (b, ub)| {
        (a.spec.priority, *ua, std::cmp::Reverse(&a.spec.id)).cmp(&(
            b.spec.priority,
            *ub,
            std::cmp::Reverse(&b.spec.id),
        ))
    })
}

/// Units withheld at one location, and by which rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withholding {
    /// Units withheld in all.
    pub units: i64,
    /// The rules that withheld them (a hold-back of 0 that overrode others is not listed).
    pub rules: Vec<AppliedRule>,
}

impl Withholding {
    /// What the caller may sell given the location's ATP.
    pub fn available(&self, atp: i64) -> i64 {
        (atp - self.units).max(0)
    }
}

/// The tz database zone of a catalog time zone name, UTC if unknown.
pub fn timezone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests;
