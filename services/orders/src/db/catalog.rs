//! The catalog as orders knows it (from `omni.catalog.v1`): which SKUs exist, and which locations and what they
//! can do, so intake can refuse a partner order for something that does not exist.

use diesel::prelude::*;
use std::collections::HashMap;

use omni_contracts::api::{Capability, Location, NewOrder, SkuRecord};
use omni_contracts::{Currency, Money, Sku};
use omni_db::DbConnection;

use crate::domain::known_catalog::KnownCatalog;

use super::schema::{known_locations, known_skus};

/// Remembers a SKU and its list price (the latest wins).
pub fn remember_sku(conn: &mut DbConnection, record: &SkuRecord) -> omni_db::Result<()> {
    let (minor, currency) = (
        record.price.map(|p| p.amount_minor),
        record.price.map(|p| p.currency.as_str().to_owned()),
    );
    let updated = diesel::update(known_skus::table.find(record.sku.as_str()))
        .set((
            known_skus::price_minor.eq(minor),
            known_skus::price_currency.eq(currency.clone()),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(known_skus::table)
            .values((
                known_skus::sku.eq(record.sku.as_str()),
                known_skus::price_minor.eq(minor),
                known_skus::price_currency.eq(currency),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The SKUs of `skus` orders has learned from the catalog, each with its list price if it has one (SKUs not
/// learned yet are absent).
pub fn prices(conn: &mut DbConnection, skus: &[&Sku]) -> omni_db::Result<HashMap<String, Option<Money>>> {
    let rows: Vec<(String, Option<i64>, Option<String>)> = known_skus::table
        .filter(known_skus::sku.eq_any(skus.iter().map(|s| s.as_str())))
        .select((
            known_skus::sku,
            known_skus::price_minor,
            known_skus::price_currency,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(sku, minor, currency)| {
            let price =
                minor
                    .zip(currency.and_then(|c| Currency::parse(&c).ok()))
                    .map(|(amount_minor, currency)| Money {
                        amount_minor,
                        currency,
                    });
            (sku, price)
        })
        .collect())
}

/// Remembers a location and its capabilities (the latest wins).
pub fn remember_location(conn: &mut DbConnection, location: &Location) -> omni_db::Result<()> {
    let capabilities = location
        .capabilities
        .iter()
        .map(|c| capability_name(*c))
        .collect::<Vec<_>>()
        .join(",");
    let updated = diesel::update(known_locations::table.find(location.id.as_str()))
        .set(known_locations::capabilities.eq(&capabilities))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(known_locations::table)
            .values((
                known_locations::id.eq(location.id.as_str()),
                known_locations::capabilities.eq(&capabilities),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The catalog as orders knows it for the SKUs and locations `orders` refer to (two queries for all).
pub fn known_for<'a, T: 'a>(
    conn: &mut DbConnection,
    orders: impl IntoIterator<Item = &'a NewOrder<T>>,
) -> omni_db::Result<KnownCatalog> {
    let (skus, locations) = crate::domain::known_catalog::referenced(orders);
    let skus = if skus.is_empty() {
        Default::default()
    } else {
        known_skus::table
            .filter(known_skus::sku.eq_any(skus))
            .select(known_skus::sku)
            .load::<String>(conn)?
            .into_iter()
            .collect()
    };
    let locations = if locations.is_empty() {
        Default::default()
    } else {
        known_locations::table
            .filter(known_locations::id.eq_any(locations))
            .select((known_locations::id, known_locations::capabilities))
            .load::<(String, String)>(conn)?
            .into_iter()
            .map(|(id, capabilities)| {
                let capabilities = capabilities
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                (id, capabilities)
            })
            .collect()
    };
    Ok(KnownCatalog { skus, locations })
}

/// The wire name of a capability (`ship`, `pickup`, `curbside`).
pub fn capability_name(capability: Capability) -> &'static str {
    match capability {
        Capability::Ship => "ship",
        Capability::Pickup => "pickup",
        Capability::Curbside => "curbside",
    }
}
