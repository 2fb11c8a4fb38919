use diesel::prelude::*;
use omni_contracts::api::CustomerTier;
use omni_contracts::api::{Capability, Channel, LocationAvailability, LocationKind};
use omni_contracts::events::{ChannelAvailability, FencedAvailability};
use omni_contracts::policies::Segment;
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{node_channel_stock, node_fenced_stock, node_stock, nodes};
use crate::domain::routing::{Node, Stock};

/// Inserts or replaces a node from a catalog location.
pub fn upsert_node(conn: &mut DbConnection, location: &omni_contracts::api::Location) -> omni_db::Result<()> {
    let caps = location
        .capabilities
        .iter()
        .map(|c| match c {
            Capability::Ship => "ship",
            Capability::Pickup => "pickup",
            Capability::Curbside => "curbside",
        })
        .collect::<Vec<_>>()
        .join(",");
    diesel::delete(nodes::table.find(location.id.as_str())).execute(conn)?;
    diesel::insert_into(nodes::table)
        .values((
            nodes::location_id.eq(location.id.as_str()),
            nodes::lat.eq(location.lat.degrees()),
            nodes::lon.eq(location.lon.degrees()),
            nodes::capabilities.eq(caps),
            nodes::kind.eq(match location.kind {
                LocationKind::Store => "store",
                LocationKind::Warehouse => "warehouse",
            }),
            nodes::curbside_bays.eq(i32::try_from(location.curbside_bays).unwrap_or(i32::MAX)),
            nodes::pick_capacity.eq(location
                .pick_capacity
                .map(|c| i32::try_from(c).unwrap_or(i32::MAX))),
            nodes::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a task needs to know of its node beyond where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeProfile {
    /// Store or warehouse (its task deadlines are settings per kind).
    pub kind: LocationKind,
    /// Curbside bays, numbered 1 to this.
    pub curbside_bays: u32,
    /// Units it can pick a day (`None`: no limit).
    pub pick_capacity: Option<u32>,
}

/// A node's profile; `None` for a location the catalog has not announced.
pub fn profile(conn: &mut DbConnection, location: &LocationId) -> omni_db::Result<Option<NodeProfile>> {
    let row: Option<(String, i32, Option<i32>)> = nodes::table
        .find(location.as_str())
        .select((nodes::kind, nodes::curbside_bays, nodes::pick_capacity))
        .first(conn)
        .optional()?;
    row.map(|(kind, bays, capacity)| {
        let kind = kind_of(kind.clone()).ok_or_else(|| {
            omni_db::Error::Inconsistent(format!("node {location} has a corrupt kind `{kind}`"))
        })?;
        Ok(NodeProfile {
            kind,
            curbside_bays: u32::try_from(bays).unwrap_or(0),
            pick_capacity: capacity.and_then(|c| u32::try_from(c).ok()),
        })
    })
    .transpose()
}

/// Replaces the stock picture of one SKU (the availability event lists every location that stocks it, and what
/// each channel may sell there; a location missing from a channel's list has nothing for it).
pub fn replace_stock(
    conn: &mut DbConnection,
    sku: &Sku,
    locations: &[LocationAvailability],
    channels: &[ChannelAvailability],
    fenced: &[FencedAvailability],
) -> omni_db::Result<()> {
    diesel::delete(node_stock::table.filter(node_stock::sku.eq(sku.as_str()))).execute(conn)?;
    diesel::delete(node_fenced_stock::table.filter(node_fenced_stock::sku.eq(sku.as_str()))).execute(conn)?;
    for figure in fenced {
        for l in &figure.locations {
            diesel::insert_into(node_fenced_stock::table)
                .values((
                    node_fenced_stock::location_id.eq(l.location_id.as_str()),
                    node_fenced_stock::sku.eq(sku.as_str()),
                    node_fenced_stock::channel.eq(figure.channel.as_str()),
                    node_fenced_stock::tier.eq(figure.tier.as_str()),
                    node_fenced_stock::segment.eq(segment_name(figure.segment)),
                    node_fenced_stock::available.eq(l.available),
                ))
                .execute(conn)?;
        }
    }
    diesel::delete(node_channel_stock::table.filter(node_channel_stock::sku.eq(sku.as_str())))
        .execute(conn)?;
    for channel in channels {
        for l in locations {
            let available = channel
                .locations
                .iter()
                .find(|c| c.location_id == l.location_id)
                .map_or(0, |c| c.available);
            diesel::insert_into(node_channel_stock::table)
                .values((
                    node_channel_stock::location_id.eq(l.location_id.as_str()),
                    node_channel_stock::sku.eq(sku.as_str()),
                    node_channel_stock::channel.eq(channel.channel.as_str()),
                    node_channel_stock::available.eq(available),
                ))
                .execute(conn)?;
        }
    }
    let now = omni_db::now();
    for l in locations {
        diesel::insert_into(node_stock::table)
            .values((
                node_stock::location_id.eq(l.location_id.as_str()),
                node_stock::sku.eq(sku.as_str()),
                node_stock::atp.eq(l.atp),
                node_stock::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Every node, with the units routed to it since `day_start` (UTC).
pub fn nodes(conn: &mut DbConnection, day_start: chrono::NaiveDateTime) -> omni_db::Result<Vec<Node>> {
    let rows: Vec<(String, f64, f64, String, String, Option<i32>)> = nodes::table
        .select((
            nodes::location_id,
            nodes::lat,
            nodes::lon,
            nodes::capabilities,
            nodes::kind,
            nodes::pick_capacity,
        ))
        .load(conn)?;
    let today = super::fulfillments::units_since(conn, day_start)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, lat, lon, caps, kind, capacity)| {
            let mut node = Node::from_row(&id, lat, lon, &caps)?;
            node.kind = kind_of(kind).unwrap_or(LocationKind::Store);
            node.pick_capacity = capacity.and_then(|c| u32::try_from(c).ok());
            node.picked_today = today.get(&id).copied().unwrap_or(0);
            Some(node)
        })
        .collect())
}

/// What `channel` may sell by (location, SKU) for the given SKUs: its figure after buffer rules where
/// allocation published one, else (and without a channel) the ATP; for a `favoured` caller (a VIP, a pre-order, a
/// curbside pickup: its tier and segment), that caller's own figure where ring-fences make it differ.
pub fn stock_for(
    conn: &mut DbConnection,
    skus: &[String],
    channel: Option<Channel>,
    favoured: Option<(CustomerTier, Option<Segment>)>,
) -> omni_db::Result<Stock> {
    let rows: Vec<(String, String, i64)> = node_stock::table
        .filter(node_stock::sku.eq_any(skus))
        .select((node_stock::location_id, node_stock::sku, node_stock::atp))
        .load(conn)?;
    let mut stock = Stock::default();
    for (location, sku, atp) in rows {
        stock.set(&location, &sku, atp);
    }
    let Some(channel) = channel else {
        return Ok(stock);
    };
    let for_channel: Vec<(String, String, i64)> = node_channel_stock::table
        .filter(node_channel_stock::sku.eq_any(skus))
        .filter(node_channel_stock::channel.eq(channel.as_str()))
        .select((
            node_channel_stock::location_id,
            node_channel_stock::sku,
            node_channel_stock::available,
        ))
        .load(conn)?;
    for (location, sku, available) in for_channel {
        stock.set(&location, &sku, available);
    }
    let Some((tier, segment)) = favoured.filter(|f| *f != (CustomerTier::Standard, None)) else {
        return Ok(stock);
    };
    let own: Vec<(String, String, i64)> = node_fenced_stock::table
        .filter(node_fenced_stock::sku.eq_any(skus))
        .filter(node_fenced_stock::channel.eq(channel.as_str()))
        .filter(node_fenced_stock::tier.eq(tier.as_str()))
        .filter(node_fenced_stock::segment.eq(segment_name(segment)))
        .select((
            node_fenced_stock::location_id,
            node_fenced_stock::sku,
            node_fenced_stock::available,
        ))
        .load(conn)?;
    // A SKU with the caller's own figures takes them everywhere (a location absent from them has nothing).
    let mut replaced = std::collections::BTreeSet::new();
    for (location, sku, available) in own {
        if replaced.insert(sku.clone()) {
            let locations: Vec<String> = stock
                .of(&sku)
                .map(|at| at.keys().cloned().collect())
                .unwrap_or_default();
            for other in locations {
                stock.set(&other, &sku, 0);
            }
        }
        stock.set(&location, &sku, available);
    }
    Ok(stock)
}

/// A segment as stored ('' for none).
fn segment_name(segment: Option<Segment>) -> &'static str {
    segment.map_or("", Segment::as_str)
}

/// A stored node kind (its wire name); `None` for a value this code never writes.
fn kind_of(raw: String) -> Option<LocationKind> {
    serde_json::from_value(serde_json::Value::String(raw)).ok()
}
