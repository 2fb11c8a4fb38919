//! The lifecycle of a hold: place, extend, commit, release, expire. PostgreSQL decides (conditional updates);
//! the hold store follows. Placing goes store → database (undo the store on failure); releasing and committing
//! go database → store, so a crash in between leaves the store holding too much, never too little: it fails
//! safe, and the rebuild or reconciler repairs it.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use omni_contracts::api::{NewReservation, Reservation, ReservationLine, ReservationPart, ReservationStatus};
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, Quantity, ReservationId, Sku};

use crate::app::State;
use crate::app::hold_writer::Unwritten;
use crate::db::reservations::{self, NewHold, StoredHold};
use crate::db::{catalog, ledger};
use crate::domain::policy::{Caller, PolicySet};
use crate::error::HoldFailure;
use crate::failpoints::{self, failpoint};
use crate::holds::{Generation, HoldError, KeepBack, ReserveOutcome};

/// Most lines one hold may carry.
pub const MAX_LINES: usize = 100;
/// Longest lifetime of a hold, in seconds.
pub const MAX_TTL_SECONDS: u32 = 86_400;

fn corrupt(e: omni_contracts::ContractError) -> HoldFailure {
    HoldFailure::Corrupt(e.to_string())
}

fn api_lines(lines: &[(Sku, i64)]) -> Result<Vec<ReservationLine>, HoldFailure> {
    lines
        .iter()
        .map(|(sku, q)| {
            Ok(ReservationLine {
                sku: sku.clone(),
                quantity: Quantity::new(*q)?,
            })
        })
        .collect::<Result<_, omni_contracts::ContractError>>()
        .map_err(corrupt)
}

/// The API view of a stored hold.
pub fn view(hold: &StoredHold) -> Result<Reservation, HoldFailure> {
    view_group(hold.reservation_id, std::slice::from_ref(hold))
}

/// The API view of a hold known to the caller as `id`: one stored hold, or the parts of a split one. Its status
/// is `held` only while every part is; otherwise the first part's that is not.
pub fn view_group(id: ReservationId, parts: &[StoredHold]) -> Result<Reservation, HoldFailure> {
    let first = parts.first().ok_or(HoldFailure::NotFound(id))?;
    let status = parts
        .iter()
        .find(|p| p.status != ReservationStatus::Held)
        .unwrap_or(first)
        .status;
    let mut total: std::collections::BTreeMap<Sku, i64> = Default::default();
    for (sku, q) in parts.iter().flat_map(|p| p.lines.iter()) {
        *total.entry(sku.clone()).or_default() += q;
    }
    let biggest = parts
        .iter()
        .max_by_key(|p| p.lines.iter().map(|(_, q)| q).sum::<i64>())
        .unwrap_or(first);
    Ok(Reservation {
        reservation_id: id,
        status,
        location_id: biggest.location_id.clone(),
        lines: api_lines(&total.into_iter().collect::<Vec<_>>())?,
        locations: parts
            .iter()
            .map(|p| {
                Ok(ReservationPart {
                    location_id: p.location_id.clone(),
                    lines: api_lines(&p.lines)?,
                })
            })
            .collect::<Result<_, HoldFailure>>()?,
        expires_at: DateTime::<Utc>::from_naive_utc_and_offset(
            parts
                .iter()
                .map(|p| p.expires_at)
                .min()
                .unwrap_or(first.expires_at),
            Utc,
        ),
    })
}

/// The stored holds a caller's id stands for: the hold itself, or the parts of a split hold (empty: unknown).
pub async fn members(state: &State, id: ReservationId) -> Result<Vec<StoredHold>, HoldFailure> {
    Ok(state.db.run(move |conn| reservations::group(conn, id)).await?)
}

/// A hold as the caller knows it (one location or split).
pub async fn get(state: &State, id: ReservationId) -> Result<Reservation, HoldFailure> {
    view_group(id, &members(state, id).await?)
}

/// Releases a hold, every part of a split one.
pub async fn release_all(state: &State, id: ReservationId) -> Result<Reservation, HoldFailure> {
    let mut now = Vec::new();
    for part in members(state, id).await? {
        now.push(end_part(state, part, Ending::Released).await?);
    }
    view_group(id, &now)
}

/// Commits a hold, every part of a split one.
pub async fn commit_all(state: &State, id: ReservationId) -> Result<Reservation, HoldFailure> {
    let parts = members(state, id).await?;
    if parts.is_empty() {
        return Err(HoldFailure::NotFound(id));
    }
    let mut now = Vec::with_capacity(parts.len());
    for part in parts {
        now.push(commit_part(state, part, None).await?);
    }
    view_group(id, &now)
}

/// Extends a hold, every part of a split one.
pub async fn extend_all(
    state: &State,
    id: ReservationId,
    ttl_seconds: u32,
) -> Result<Reservation, HoldFailure> {
    let parts = members(state, id).await?;
    if parts.is_empty() {
        return Err(HoldFailure::NotFound(id));
    }
    for part in parts {
        extend(state, part.reservation_id, ttl_seconds).await?;
    }
    get(state, id).await
}

/// Places a checkout hold. Idempotent by reservation id: a retry answers the existing hold (`false`).
pub async fn place(state: &State, request: NewReservation) -> Result<(Reservation, bool), HoldFailure> {
    if request.lines.is_empty() || request.lines.len() > MAX_LINES {
        return Err(HoldFailure::Invalid(format!(
            "lines: 1 to {MAX_LINES} lines, got {}",
            request.lines.len()
        )));
    }
    if request.ttl_seconds == 0 || request.ttl_seconds > MAX_TTL_SECONDS {
        return Err(HoldFailure::Invalid(format!(
            "ttl_seconds: 1 to {MAX_TTL_SECONDS}, got {}",
            request.ttl_seconds
        )));
    }
    let id = request.reservation_id;
    let wanted: Vec<HoldLine> = request
        .lines
        .iter()
        .map(|l| HoldLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect();
    let lines = crate::domain::merge_lines(&wanted).map_err(|e| HoldFailure::Invalid(e.to_string()))?;
    // A hold at a named location whose SKUs and location this process has met asks the database nothing before the
    // store (DESIGN §4): a retry of an id placed before is found when its row is written, or when the store is short.
    let skus: Vec<&Sku> = lines.iter().map(|l| &l.sku).collect();
    let unchecked = matches!(&request.location_id, Some(location) if state.known.all(location, &skus));
    let candidates = match &request.location_id {
        Some(location) if unchecked => vec![location.clone()],
        _ => match candidates(state, id, request.location_id.clone(), lines.clone()).await? {
            Candidates::Placed(placed) => return Ok((view_group(id, &placed)?, false)),
            Candidates::Locations(locations) => locations,
        },
    };
    if !state.holds_ready().await {
        return Err(HoldFailure::Unavailable(
            "the hold store is being rebuilt from the ledger".into(),
        ));
    }
    let policies = state.policies.current();
    let caller = Caller {
        channel: request.channel,
        tier: request.tier,
        segment: request.segment,
    };
    let _change = state.change_guard().await;
    // Microseconds, as the database keeps it, so the answer to a retry (read back) is the first answer.
    let expires_at =
        (Utc::now() + chrono::Duration::seconds(i64::from(request.ttl_seconds))).trunc_subsecs(6);
    let mut shortages = Vec::new();
    for location in candidates {
        let keep_back = keep_back(state, &policies, &location, &lines, caller).await?;
        match state
            .holds
            .reserve(id, &location, &lines, &keep_back)
            .await
            .map_err(|e| unavailable(state, e))?
        {
            ReserveOutcome::Short(short) => shortages = short,
            ReserveOutcome::Held { generation } => {
                failpoint!(
                    failpoints::HOLD_BETWEEN_STORE_AND_LEDGER,
                    Err(HoldFailure::Unavailable(
                        failpoints::HOLD_BETWEEN_STORE_AND_LEDGER.into()
                    ))
                );
                let written = state
                    .writer
                    .write(crate::app::hold_writer::PlacedHold {
                        id,
                        channel: request.channel.as_str(),
                        location: location.clone(),
                        lines: lines.clone(),
                        expires_at: expires_at.naive_utc(),
                        generation,
                    })
                    .await;
                match written {
                    Ok(()) => {}
                    Err(Unwritten::PlacedBefore) => {
                        let placed = members(state, id).await?;
                        return answer_placed_before(state, id, &location, placed).await;
                    }
                    Err(refused @ (Unwritten::Reloaded | Unwritten::UncommittedLoad)) => {
                        // Not recorded: the store's hold is given back (it is of a store loaded again since, or
                        // of a load that never committed, which is loaded again before the next hold).
                        if matches!(refused, Unwritten::UncommittedLoad) {
                            state.mark_stale();
                        }
                        if state.holds.release(id, &location).await.is_err() {
                            state.mark_stale();
                        }
                        return Err(refused.into());
                    }
                    Err(Unwritten::Failed(e)) => {
                        return match undo_unless_recorded(state, id, &location).await {
                            // Recorded: by this call, whose commit went through although its answer was lost (the
                            // row is this call's to the microsecond), or before (a retry).
                            Recorded::Yes => {
                                let placed = members(state, id).await?;
                                let ours = matches!(placed.as_slice(), [only]
                                    if only.expires_at == expires_at.naive_utc() && only.location_id == location);
                                if ours {
                                    Ok((view_group(id, &placed)?, true))
                                } else {
                                    answer_placed_before(state, id, &location, placed).await
                                }
                            }
                            Recorded::No | Recorded::Unknown => Err(e),
                        };
                    }
                }
                failpoint!(
                    failpoints::HOLD_BETWEEN_LEDGER_AND_ANSWER,
                    Err(HoldFailure::Unavailable(
                        failpoints::HOLD_BETWEEN_LEDGER_AND_ANSWER.into()
                    ))
                );
                state.changed();
                let held = StoredHold {
                    reservation_id: id,
                    order_id: None,
                    location_id: location.clone(),
                    status: ReservationStatus::Held,
                    lines: lines
                        .iter()
                        .map(|l| (l.sku.clone(), i64::from(l.quantity)))
                        .collect(),
                    expires_at: expires_at.naive_utc(),
                };
                return Ok((view(&held)?, true));
            }
        }
    }
    if unchecked {
        // Short: unless the id was placed before (a retry, answered with what was placed).
        let placed = members(state, id).await?;
        if !placed.is_empty() {
            return Ok((view_group(id, &placed)?, false));
        }
    }
    if request.location_id.is_none() {
        // No single location has every line: split the hold, a part per location, all or none.
        let available = split_availability(state, &policies, &lines, caller).await?;
        if let Some(plan) = crate::domain::split_plan(&lines, &available) {
            return place_split(state, id, &request, plan, caller, expires_at).await;
        }
    }
    Err(HoldFailure::Short(shortages))
}

/// Answers a hold whose id was placed before with what was placed (`placed`, as read). The store's hold this
/// call asked for is that one only if it is held at this location (the script answered it held again); otherwise
/// this call made it, and it is given back.
async fn answer_placed_before(
    state: &State,
    id: ReservationId,
    location: &LocationId,
    placed: Vec<StoredHold>,
) -> Result<(Reservation, bool), HoldFailure> {
    let same = matches!(placed.as_slice(), [only]
        if only.reservation_id == id && only.status == ReservationStatus::Held && only.location_id == *location);
    if !same && state.holds.release(id, location).await.is_err() {
        state.mark_stale();
    }
    Ok((view_group(id, &placed)?, false))
}

/// What the caller may take of each SKU at each location, under its rules.
async fn split_availability(
    state: &State,
    policies: &std::sync::Arc<PolicySet>,
    lines: &[HoldLine],
    caller: Caller,
) -> Result<std::collections::BTreeMap<LocationId, std::collections::BTreeMap<Sku, i64>>, HoldFailure> {
    let (policies, skus) = (
        policies.clone(),
        lines.iter().map(|l| l.sku.clone()).collect::<Vec<_>>(),
    );
    Ok(state
        .db
        .run(move |conn| -> omni_db::Result<_> {
            let now = Utc::now();
            let mut available: std::collections::BTreeMap<LocationId, std::collections::BTreeMap<Sku, i64>> =
                Default::default();
            for sku in &skus {
                let picture = crate::app::availability::SkuPicture::read(conn, &policies, sku, now)?;
                for offer in picture.offers(&policies, &caller, now) {
                    available
                        .entry(offer.location_id)
                        .or_default()
                        .insert(sku.clone(), offer.available);
                }
            }
            Ok(available)
        })
        .await?)
}

/// Holds each part of a split plan in the store (undoing the held ones if one is short), then records every
/// part under the caller's id in one transaction (undoing the store if that fails).
async fn place_split(
    state: &State,
    id: ReservationId,
    request: &NewReservation,
    plan: Vec<(LocationId, Vec<HoldLine>)>,
    caller: Caller,
    expires_at: DateTime<Utc>,
) -> Result<(Reservation, bool), HoldFailure> {
    let policies = state.policies.current();
    let mut held: Vec<(ReservationId, LocationId, Vec<HoldLine>, Generation)> =
        Vec::with_capacity(plan.len());
    let undo = |held: Vec<(ReservationId, LocationId, Vec<HoldLine>, Generation)>| async move {
        for (part, location, _, _) in held {
            if state.holds.release(part, &location).await.is_err() {
                state.mark_stale();
            }
        }
    };
    for (location, lines) in plan {
        let keep_back = keep_back(state, &policies, &location, &lines, caller).await?;
        let part = ReservationId::generate();
        match state.holds.reserve(part, &location, &lines, &keep_back).await {
            Ok(ReserveOutcome::Held { generation }) => held.push((part, location, lines, generation)),
            Ok(ReserveOutcome::Short(short)) => {
                undo(held).await;
                return Err(HoldFailure::Short(short));
            }
            Err(e) => {
                undo(held).await;
                return Err(unavailable(state, e));
            }
        }
    }
    let (parts, channel) = (held.clone(), request.channel.as_str());
    let written = state
        .db
        .transaction(move |conn| -> Result<(), HoldFailure> {
            let current = crate::db::generation::current_shared(conn)?;
            if parts.iter().any(|(_, _, _, generation)| *generation != current) {
                return Err(HoldFailure::Unavailable(crate::app::hold_writer::RELOADED.into()));
            }
            let mut skus = std::collections::BTreeSet::new();
            for (part, location, lines, _) in &parts {
                let hold = NewHold {
                    id: *part,
                    order_id: None,
                    parent: Some(id),
                    channel,
                    location,
                    lines,
                    expires_at: expires_at.naive_utc(),
                };
                reservations::insert_held(conn, &hold)?;
                skus.extend(lines.iter().map(|l| l.sku.clone()));
            }
            for sku in &skus {
                crate::app::availability::availability_changed(conn, sku)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = written {
        undo(held).await;
        return Err(e);
    }
    state.changed();
    tracing::info!(reservation.id = %id, parts = held.len(), "Hold split across locations.");
    Ok((get(state, id).await?, true))
}

/// A hold store failure, as the caller sees it; an emptied store is rebuilt before the next hold.
fn unavailable(state: &State, e: HoldError) -> HoldFailure {
    if matches!(e, HoldError::Unloaded(_)) {
        state.mark_stale();
    }
    HoldFailure::Unavailable(e.to_string())
}

/// Whether a hold whose write failed is in the ledger after all.
enum Recorded {
    /// It is: the commit succeeded and only its answer was lost.
    Yes,
    /// It is not: the store's hold was given back.
    No,
    /// The ledger cannot say now: the store's hold is kept (over-holding, never overselling) and the store is
    /// rebuilt from the ledger before the next hold.
    Unknown,
}

/// After a failed write of hold `id`: gives the store's hold back only if the ledger surely does not have it (an
/// ambiguous commit — the connection lost during `COMMIT` — never undoes a hold the ledger keeps).
async fn undo_unless_recorded(state: &State, id: ReservationId, location: &LocationId) -> Recorded {
    match state.db.run(move |conn| reservations::exists(conn, id)).await {
        Ok(true) => Recorded::Yes,
        Ok(false) => {
            if state.holds.release(id, location).await.is_err() {
                state.mark_stale();
            }
            Recorded::No
        }
        Err(e) => {
            tracing::error!(error = %e, reservation.id = %id, "Cannot tell whether a hold was recorded; keeping it in the store and rebuilding the store from the ledger.");
            state.mark_stale();
            Recorded::Unknown
        }
    }
}

/// What a new hold request finds in one database call.
enum Candidates {
    /// The id is taken: a retry, answered with what was placed.
    Placed(Vec<StoredHold>),
    /// The locations to try, best first.
    Locations(Vec<LocationId>),
}

/// In one database call: the hold already placed under `id` (a retry), or the locations to try, best first: the
/// requested one, or every location that has all lines in stock by the ledger, most stock first.
async fn candidates(
    state: &State,
    id: ReservationId,
    requested: Option<LocationId>,
    lines: Vec<HoldLine>,
) -> Result<Candidates, HoldFailure> {
    let known = state.known.clone();
    state
        .db
        .run(move |conn| -> Result<Candidates, HoldFailure> {
            let placed = reservations::group(conn, id)?;
            if !placed.is_empty() {
                return Ok(Candidates::Placed(placed));
            }
            let skus: Vec<&Sku> = lines.iter().map(|l| &l.sku).collect();
            if let Some(sku) = catalog::first_unknown_sku(conn, &skus)? {
                return Err(HoldFailure::UnknownReference(format!("sku: unknown SKU `{sku}`")));
            }
            known.remember_skus(skus.iter().copied());
            if let Some(location) = requested {
                if !catalog::location_known(conn, &location)? {
                    return Err(HoldFailure::UnknownReference(format!(
                        "location_id: unknown location `{location}`"
                    )));
                }
                known.remember_location(&location);
                return Ok(Candidates::Locations(vec![location]));
            }
            let mut atp: std::collections::BTreeMap<LocationId, (usize, i64)> = Default::default();
            for line in &lines {
                for at in ledger::availability(conn, &line.sku)? {
                    if at.atp >= i64::from(line.quantity) {
                        let entry = atp.entry(at.location_id).or_default();
                        entry.0 += 1;
                        entry.1 += at.atp;
                    }
                }
            }
            let mut ranked: Vec<(LocationId, i64)> = atp
                .into_iter()
                .filter(|(_, (n, _))| *n == lines.len())
                .map(|(l, (_, total))| (l, total))
                .collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let mut ranked: Vec<LocationId> = ranked.into_iter().map(|(l, _)| l).collect();
            if ranked.is_empty() {
                // Nothing has every line: try the location with the most of the first line, to report shortages.
                if let Some(best) = ledger::availability(conn, &lines[0].sku)?
                    .into_iter()
                    .max_by_key(|l| l.atp)
                {
                    ranked.push(best.location_id);
                }
            }
            Ok(Candidates::Locations(ranked))
        })
        .await
}

/// The reservation, or `NotFound`.
async fn existing(state: &State, id: ReservationId) -> Result<StoredHold, HoldFailure> {
    find(state, id).await?.ok_or(HoldFailure::NotFound(id))
}

async fn find(state: &State, id: ReservationId) -> Result<Option<StoredHold>, HoldFailure> {
    Ok(state.db.run(move |conn| reservations::find(conn, id)).await?)
}

/// Extends a held, unexpired reservation by `ttl_seconds` from now.
pub async fn extend(state: &State, id: ReservationId, ttl_seconds: u32) -> Result<Reservation, HoldFailure> {
    if ttl_seconds == 0 || ttl_seconds > MAX_TTL_SECONDS {
        return Err(HoldFailure::Invalid(format!(
            "ttl_seconds: 1 to {MAX_TTL_SECONDS}, got {ttl_seconds}"
        )));
    }
    let until = (Utc::now() + chrono::Duration::seconds(i64::from(ttl_seconds))).naive_utc();
    let extended = state
        .db
        .transaction(move |conn| reservations::extend(conn, id, until, omni_db::now()))
        .await?;
    let hold = existing(state, id).await?;
    if !extended {
        if hold.status == ReservationStatus::Held && hold.expires_at > until {
            return Err(HoldFailure::WouldShorten {
                id: hold.reservation_id,
                until: if hold.expires_at >= reservations::pinned_until() {
                    "its order is fulfilled (pinned)".to_owned()
                } else {
                    format!("{}Z", hold.expires_at.format("%Y-%m-%dT%H:%M:%S"))
                },
            });
        }
        return Err(not_held(&hold));
    }
    view(&hold)
}

fn not_held(hold: &StoredHold) -> HoldFailure {
    let status = match hold.status {
        ReservationStatus::Held => ReservationStatus::Expired,
        ended => ended,
    };
    HoldFailure::NotHeld {
        id: hold.reservation_id,
        status,
    }
}

/// How a hold ends before it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Given back whatever its expiry (cancelled, or its order failed).
    Released,
    /// Lapsed (the sweeper); announced to the saga if an order placed it.
    Expired,
}

impl Ending {
    fn status(self) -> ReservationStatus {
        match self {
            Ending::Released => ReservationStatus::Released,
            Ending::Expired => ReservationStatus::Expired,
        }
    }
}

/// Ends a hold: released (cancelled) or expired (the sweeper). Releasing a hold that is no longer held is a
/// no-op that answers its current state.
pub async fn end(state: &State, id: ReservationId, how: Ending) -> Result<Reservation, HoldFailure> {
    let hold = existing(state, id).await?;
    view(&end_part(state, hold, how).await?)
}

/// Ends one stored hold (as read by the caller); returns it as it is now.
async fn end_part(state: &State, hold: StoredHold, how: Ending) -> Result<StoredHold, HoldFailure> {
    let _change = state.change_guard().await;
    let now = omni_db::now();
    let stored = hold.clone();
    let ended = state
        .db
        .transaction(move |conn| -> Result<bool, HoldFailure> {
            let ended = match how {
                Ending::Released => reservations::mark_released(conn, stored.reservation_id)?,
                Ending::Expired => {
                    reservations::transition(conn, stored.reservation_id, ReservationStatus::Expired, now)?
                }
            };
            if ended {
                mark_lines(conn, &stored)?;
                if how == Ending::Expired {
                    announce_expiry(conn, &stored)?;
                }
            }
            Ok(ended)
        })
        .await?;
    if !ended {
        // Ended before (by another caller, or by this one whose answer or store step was lost): the store follows
        // the ledger again (a no-op if it did), then the answer is what it is now.
        let now = existing(state, hold.reservation_id).await?;
        if matches!(
            now.status,
            ReservationStatus::Released | ReservationStatus::Expired
        ) {
            follow_store(state, &now, Follow::Release).await;
        }
        return Ok(now);
    }
    follow_store(state, &hold, Follow::Release).await;
    Ok(StoredHold {
        status: how.status(),
        ..hold
    })
}

/// Commits a held, unexpired reservation: the units leave on-hand (a `commit` row per line in the ledger).
pub async fn commit(state: &State, id: ReservationId) -> Result<Reservation, HoldFailure> {
    let hold = existing(state, id).await?;
    view(&commit_part(state, hold, None).await?)
}

/// A hold as it was read, and the `(sku, units)` given back from it.
type Reduced = (StoredHold, Vec<(Sku, i64)>);

/// Gives back units of an order's hold its store will not fulfil (they went to other nodes), once per event id:
/// the database first, then the hold store (what frees units goes to the log first).
pub async fn reduce(
    state: &State,
    event_id: String,
    id: ReservationId,
    units: Vec<(Sku, i64)>,
) -> Result<(), HoldFailure> {
    let _change = state.change_guard().await;
    let given = state
        .db
        .transaction(move |conn| -> Result<Option<Reduced>, HoldFailure> {
            if !omni_db::inbox::claim(conn, "allocation.sourcing", &event_id)? {
                return Ok(None);
            }
            let Some(hold) = reservations::find(conn, id)? else {
                return Ok(None);
            };
            let given = reservations::reduce(conn, id, &units)?;
            for (sku, _) in &given {
                crate::app::availability::availability_changed(conn, sku)?;
            }
            Ok(Some((hold, given)))
        })
        .await?;
    let Some((hold, given)) = given.filter(|(_, given)| !given.is_empty()) else {
        return Ok(());
    };
    state.changed();
    let units: Vec<(String, i64)> = given.iter().map(|(sku, n)| (sku.to_string(), *n)).collect();
    if let Err(e) = state.holds.reduce(id, &hold.location_id, &units).await {
        tracing::error!(error = %e, reservation.id = %id, "Hold store missed a reduced hold; rebuilding it from the ledger.");
        state.mark_stale();
    }
    tracing::info!(reservation.id = %id, location.id = %hold.location_id, units = ?units, "Units of an order's hold given back: its store will not fulfil them.");
    Ok(())
}

/// Commits an order's hold of which only `left` units left the node (the rest went to another node): those leave
/// on-hand, the rest is released, in one step.
pub async fn commit_left(
    state: &State,
    id: ReservationId,
    left: Vec<(Sku, i64)>,
) -> Result<Reservation, HoldFailure> {
    let hold = existing(state, id).await?;
    view(&commit_part(state, hold, Some(left)).await?)
}

/// Commits one stored hold (as read by the caller): every held unit leaves on-hand, or only the `left` ones (at
/// most what was held; the rest is released); returns it as it is now.
async fn commit_part(
    state: &State,
    hold: StoredHold,
    left: Option<Vec<(Sku, i64)>>,
) -> Result<StoredHold, HoldFailure> {
    let _change = state.change_guard().await;
    let now = omni_db::now();
    let stored = hold.clone();
    let gone = |sku: &Sku, held: i64| {
        left.as_ref().map_or(held, |left| {
            left.iter()
                .filter(|(s, _)| s == sku)
                .map(|(_, units)| *units)
                .sum::<i64>()
                .clamp(0, held)
        })
    };
    let leaving: Vec<(Sku, i64)> = hold
        .lines
        .iter()
        .map(|(sku, held)| (sku.clone(), gone(sku, *held)))
        .collect();
    let entries = leaving.clone();
    let committed = state
        .db
        .transaction(move |conn| -> Result<bool, HoldFailure> {
            // Under the generation's shared lock: units leave on-hand either before a load reads the ledger (its
            // snapshot has them gone and the hold ended) or after it (its snapshot has both, and the store then
            // commits the hold it loaded) — never between a snapshot's read of the levels and its read of the holds.
            crate::db::generation::current_shared(conn)?;
            if !reservations::transition(conn, stored.reservation_id, ReservationStatus::Committed, now)? {
                return Ok(false);
            }
            for (sku, quantity) in entries.iter().filter(|(_, q)| *q > 0) {
                let event_id = format!("commit:{}:{sku}", stored.reservation_id);
                let entry = ledger::Entry {
                    event_id: &event_id,
                    location: &stored.location_id,
                    sku,
                    kind: ledger::EntryKind::Commit,
                    quantity: *quantity,
                    delta: -quantity,
                };
                ledger::append_entry(conn, &entry)?;
            }
            mark_lines(conn, &stored)?;
            Ok(true)
        })
        .await?;
    let partial = left.map(|_| {
        leaving
            .iter()
            .map(|(sku, units)| (sku.to_string(), *units))
            .collect::<Vec<_>>()
    });
    if !committed {
        // Committed before (a retry whose answer or store step was lost): the store follows again (a no-op if it
        // did).
        let now = existing(state, hold.reservation_id).await?;
        if now.status == ReservationStatus::Committed {
            follow_store(state, &now, Follow::Commit(partial.as_deref())).await;
        }
        return Err(not_held(&now));
    }
    follow_store(state, &hold, Follow::Commit(partial.as_deref())).await;
    Ok(StoredHold {
        status: ReservationStatus::Committed,
        ..hold
    })
}

/// Tells the saga that an order's hold lapsed (`omni.reservation.expired`), in the caller's transaction.
fn announce_expiry(conn: &mut omni_db::DbConnection, hold: &StoredHold) -> Result<(), HoldFailure> {
    let Some(order_id) = hold.order_id else {
        return Ok(());
    };
    let expired = omni_contracts::events::ReservationExpired {
        reservation_id: hold.reservation_id,
        order_id,
        location_id: hold.location_id.clone(),
    };
    omni_kafka::outbox::enqueue(
        conn,
        &omni_contracts::Envelope::new(
            "allocation",
            omni_contracts::events::ReservationEvent::Expired(expired),
        ),
    )?;
    Ok(())
}

/// Marks the availability of a hold's SKUs as changed, in the caller's transaction.
fn mark_lines(conn: &mut omni_db::DbConnection, hold: &StoredHold) -> omni_db::Result<()> {
    for (sku, _) in &hold.lines {
        crate::app::availability::availability_changed(conn, sku)?;
    }
    Ok(())
}

/// What the hold store follows.
#[derive(Debug, Clone, Copy)]
enum Follow<'a> {
    /// A commit: every held unit left, or only these `(sku, units)` (the rest released).
    Commit(Option<&'a [(String, i64)]>),
    /// A release or an expiry.
    Release,
}

/// After the database decided, the store follows; if it cannot, it is rebuilt from the ledger.
async fn follow_store(state: &State, hold: &StoredHold, how: Follow<'_>) {
    state.changed();
    // Struck here, the store keeps holding what the ledger ended (over-holding): the reconciler repairs it.
    failpoint!(failpoints::END_BETWEEN_LEDGER_AND_STORE, ());
    let (id, location) = (hold.reservation_id, &hold.location_id);
    let outcome = match how {
        Follow::Commit(left) => state.holds.commit(id, location, left).await,
        Follow::Release => state.holds.release(id, location).await,
    };
    if let Err(e) = outcome {
        tracing::error!(error = %e, reservation.id = %id, "Hold store missed a change; rebuilding it from the ledger.");
        state.mark_stale();
    }
}

/// Expires every hold whose time has passed; returns how many.
pub async fn sweep(state: &State) -> Result<usize, HoldFailure> {
    let now: NaiveDateTime = omni_db::now();
    let due = state
        .db
        .run(move |conn| reservations::due(conn, now, 200))
        .await?;
    let mut expired = 0;
    for hold in due {
        let (id, order) = (hold.reservation_id, hold.order_id);
        if end_part(state, hold, Ending::Expired).await?.status == ReservationStatus::Expired {
            tracing::info!(reservation.id = %id, order.id = ?order, "Hold expired and released.");
            expired += 1;
        }
    }
    Ok(expired)
}

/// What the caller's buffer rules keep back at `location` from the SKUs of `lines`.
pub async fn keep_back(
    state: &State,
    policies: &std::sync::Arc<PolicySet>,
    location: &LocationId,
    lines: &[HoldLine],
    caller: Caller,
) -> Result<KeepBack, HoldFailure> {
    if policies.iter().next().is_none() {
        return Ok(KeepBack::new());
    }
    let (policies, location) = (policies.clone(), location.clone());
    let skus: Vec<Sku> = lines.iter().map(|l| l.sku.clone()).collect();
    Ok(state
        .db
        .run(move |conn| {
            let skus: Vec<&Sku> = skus.iter().collect();
            crate::app::availability::keep_back(conn, &policies, &location, &skus, &caller, Utc::now())
        })
        .await?)
}
