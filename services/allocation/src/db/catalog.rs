use std::collections::BTreeMap;

use diesel::prelude::*;
use omni_contracts::api::{Location, SkuRecord};
use omni_contracts::events::WeatherSignal;
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{known_locations, known_skus, location_weather};
use crate::domain::policy::LocationFacts;

/// Remembers a location announced by the catalog, with where it is.
pub fn remember_location(conn: &mut DbConnection, location: &Location) -> omni_db::Result<()> {
    let (lat, lon) = (location.lat.degrees(), location.lon.degrees());
    if location_known(conn, &location.id)? {
        diesel::update(known_locations::table.find(location.id.as_str()))
            .set((
                known_locations::lat.eq(lat),
                known_locations::lon.eq(lon),
                known_locations::timezone.eq(&location.timezone),
                known_locations::region.eq(location.region.as_deref()),
                known_locations::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(known_locations::table)
            .values((
                known_locations::id.eq(location.id.as_str()),
                known_locations::lat.eq(lat),
                known_locations::lon.eq(lon),
                known_locations::timezone.eq(&location.timezone),
                known_locations::region.eq(location.region.as_deref()),
                known_locations::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Where every known location is: `(id, lat, lon)`.
pub fn location_points(conn: &mut DbConnection) -> omni_db::Result<Vec<(LocationId, f64, f64)>> {
    let points: Vec<(String, f64, f64)> = known_locations::table
        .select((known_locations::id, known_locations::lat, known_locations::lon))
        .load(conn)?;
    points
        .into_iter()
        .map(|(id, lat, lon)| {
            let id = LocationId::parse(&id)
                .map_err(|e| omni_db::Error::Inconsistent(format!("a known location's id: {e}")))?;
            Ok((id, lat, lon))
        })
        .collect()
}

/// Remembers a SKU announced by the catalog, with its tags and reorder point.
pub fn remember_sku(conn: &mut DbConnection, record: &SkuRecord) -> omni_db::Result<()> {
    let tags = serde_json::to_string(&record.tags).unwrap_or_else(|_| "[]".into());
    let reorder_point = record.reorder_point.map(i64::from);
    if sku_known(conn, &record.sku)? {
        diesel::update(known_skus::table.find(record.sku.as_str()))
            .set((
                known_skus::tags.eq(tags),
                known_skus::reorder_point.eq(reorder_point),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(known_skus::table)
            .values((
                known_skus::sku.eq(record.sku.as_str()),
                known_skus::tags.eq(tags),
                known_skus::reorder_point.eq(reorder_point),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The SKU's reorder point, if it has one.
pub fn reorder_point(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Option<i64>> {
    Ok(known_skus::table
        .find(sku.as_str())
        .select(known_skus::reorder_point)
        .first(conn)
        .optional()?
        .flatten())
}

/// Whether the catalog announced the location.
pub fn location_known(conn: &mut DbConnection, id: &LocationId) -> omni_db::Result<bool> {
    let n: i64 = known_locations::table
        .filter(known_locations::id.eq(id.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether the catalog announced the SKU.
pub fn sku_known(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<bool> {
    let n: i64 = known_skus::table
        .filter(known_skus::sku.eq(sku.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The first of `skus` the catalog never announced, if any (one query for all).
pub fn first_unknown_sku<'a>(conn: &mut DbConnection, skus: &[&'a Sku]) -> omni_db::Result<Option<&'a Sku>> {
    let known: std::collections::HashSet<String> = known_skus::table
        .filter(known_skus::sku.eq_any(skus.iter().map(|s| s.as_str())))
        .select(known_skus::sku)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(skus.iter().copied().find(|s| !known.contains(s.as_str())))
}

/// Every known location with what buffer rules match on: `(id, region, timezone)` and the latest weather.
pub fn location_facts(conn: &mut DbConnection) -> omni_db::Result<Vec<LocationFacts>> {
    let rows: Vec<(String, Option<String>, String)> = known_locations::table
        .select((
            known_locations::id,
            known_locations::region,
            known_locations::timezone,
        ))
        .order(known_locations::id.asc())
        .load(conn)?;
    let weather: BTreeMap<String, (String, Option<chrono::NaiveDateTime>)> = location_weather::table
        .select((
            location_weather::location_id,
            location_weather::condition,
            location_weather::valid_until,
        ))
        .load::<(String, String, Option<chrono::NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(location, condition, until)| (location, (condition, until)))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(id, region, tz)| {
            let weather = weather.get(&id).and_then(|(c, until)| {
                let condition = serde_json::from_value(serde_json::Value::String(c.clone())).ok()?;
                Some((condition, until.map(|u| u.and_utc())))
            });
            Some(LocationFacts {
                id: LocationId::parse(&id).ok()?,
                region,
                timezone: crate::domain::policy::timezone(&tz),
                weather,
            })
        })
        .collect())
}

/// Every known SKU's tags.
pub fn sku_tags(conn: &mut DbConnection) -> omni_db::Result<BTreeMap<String, Vec<String>>> {
    let rows: Vec<(String, String)> = known_skus::table
        .select((known_skus::sku, known_skus::tags))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(sku, tags)| (sku, serde_json::from_str(&tags).unwrap_or_default()))
        .collect())
}

/// One SKU's tags (empty when unknown).
pub fn tags_of(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Vec<String>> {
    let tags: Option<String> = known_skus::table
        .find(sku.as_str())
        .select(known_skus::tags)
        .first(conn)
        .optional()?;
    Ok(tags
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Keeps a weather signal unless a newer one is already kept. Returns whether it was kept.
pub fn remember_weather(conn: &mut DbConnection, signal: &WeatherSignal) -> omni_db::Result<bool> {
    let observed_at = signal.observed_at.naive_utc();
    let kept: Option<chrono::NaiveDateTime> = location_weather::table
        .find(signal.location_id.as_str())
        .select(location_weather::observed_at)
        .first(conn)
        .optional()?;
    let condition = serde_json::to_value(signal.condition)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let valid_until = signal.valid_until.map(|u| u.naive_utc());
    match kept {
        Some(k) if k >= observed_at => Ok(false),
        Some(_) => {
            diesel::update(location_weather::table.find(signal.location_id.as_str()))
                .set((
                    location_weather::condition.eq(condition),
                    location_weather::observed_at.eq(observed_at),
                    location_weather::valid_until.eq(valid_until),
                ))
                .execute(conn)?;
            Ok(true)
        }
        None => {
            diesel::insert_into(location_weather::table)
                .values((
                    location_weather::location_id.eq(signal.location_id.as_str()),
                    location_weather::condition.eq(condition),
                    location_weather::observed_at.eq(observed_at),
                    location_weather::valid_until.eq(valid_until),
                ))
                .execute(conn)?;
            Ok(true)
        }
    }
}
