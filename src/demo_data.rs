//! The demo data `omni dev` loads: stores and a warehouse around Berlin, a few SKUs, and stock. Loading is
//! idempotent (fixed movement ids), so a restart does not double the stock.

use std::time::Duration;

use anyhow::{Context, bail};
use omni::Service;
use omni::client::Refused;
use omni::wait::eventually;
use omni_contracts::api::{
    Capability, Channel, Customer, CustomerTier, Delivery, Latitude, Location, LocationKind, Longitude,
    MovementKind, NewOrder, OrderLine, SkuRecord, StockMovement, Tender,
};
use omni_contracts::{Currency, LocationId, MovementId, Quantity, Sku};
use serde_json::json;

/// The demo marketplace partner (the one the published partner order examples name).
pub(crate) const DEMO_PARTNER: &str = "northwind-market";

/// A demo location and the units of each SKU it starts with.
pub(crate) struct DemoLocation {
    /// Code.
    pub id: &'static str,
    name: &'static str,
    kind: LocationKind,
    lat: f64,
    lon: f64,
    region: &'static str,
    capabilities: &'static [Capability],
    /// Curbside bays (0 without curbside).
    pub bays: u32,
    /// Units it can pick a day.
    pick_capacity: u32,
    units: i64,
}

/// The demo stores and warehouse.
pub(crate) const LOCATIONS: &[DemoLocation] = &[
    DemoLocation {
        id: "STORE-MITTE",
        name: "Berlin Mitte",
        kind: LocationKind::Store,
        lat: 52.5200,
        lon: 13.4050,
        region: "berlin",
        capabilities: &[Capability::Ship, Capability::Pickup, Capability::Curbside],
        bays: 4,
        pick_capacity: 400,
        units: 25,
    },
    DemoLocation {
        id: "STORE-KREUZBERG",
        name: "Berlin Kreuzberg",
        kind: LocationKind::Store,
        lat: 52.4986,
        lon: 13.4030,
        region: "berlin",
        capabilities: &[Capability::Ship, Capability::Pickup],
        bays: 0,
        pick_capacity: 300,
        units: 25,
    },
    DemoLocation {
        id: "STORE-POTSDAM",
        name: "Potsdam",
        kind: LocationKind::Store,
        lat: 52.3906,
        lon: 13.0645,
        region: "brandenburg",
        capabilities: &[Capability::Ship, Capability::Pickup, Capability::Curbside],
        bays: 2,
        pick_capacity: 200,
        units: 25,
    },
    DemoLocation {
        id: "WH-BRANDENBURG",
        name: "Brandenburg warehouse",
        kind: LocationKind::Warehouse,
        lat: 52.4125,
        lon: 12.5316,
        region: "brandenburg",
        capabilities: &[Capability::Ship],
        bays: 0,
        pick_capacity: 5000,
        units: 200,
    },
];

/// `(sku, title, tags)`.
pub(crate) const SKUS: &[(&str, &str, &[&str])] = &[
    ("TEE-BLACK-M", "T-shirt black M", &["apparel"]),
    ("TEE-WHITE-M", "T-shirt white M", &["apparel"]),
    ("SNEAKER-42", "Runner sneaker 42", &["footwear", "high-demand"]),
    ("CAP-RED", "Cap red", &["accessories"]),
    ("BAG-TOTE", "Tote bag", &["accessories"]),
    ("JACKET-RAIN-L", "Rain jacket L", &["apparel", "weather"]),
];

/// SKUs only one node stocks: an order with both is split across the two. `(sku, title, location, units)`.
pub(crate) const EXCLUSIVE_SKUS: &[(&str, &str, &str, i64)] = &[
    ("VINYL-LTD", "Limited vinyl", "STORE-KREUZBERG", 20),
    ("POSTER-SIGNED", "Signed poster", "WH-BRANDENBURG", 20),
];

/// The demo's buffer rules: hide the last 2 units of `high-demand` SKUs from web and marketplaces, 3 in a storm.
pub(crate) fn demo_policies() -> [serde_json::Value; 2] {
    [
        json!({ "id": "last-units", "description": "Hide the last 2 units of high-demand SKUs from web and marketplaces",
                "when": { "sku_tags": ["high-demand"], "channels": ["web", "marketplace"] },
                "effect": { "hold_back": { "units": 2 } } }),
        json!({ "id": "storm", "description": "3 units when a storm is forecast at the store",
                "when": { "sku_tags": ["high-demand"], "channels": ["web", "marketplace"], "weather": ["storm"] },
                "effect": { "hold_back": { "units": 3 } } }),
    ]
}

/// Loads the demo data through the public APIs.
pub(crate) async fn seed(mesh: &omni::Mesh, admin_key: &str) -> anyhow::Result<()> {
    let catalog = mesh.catalog(admin_key);
    let allocation = mesh.allocation(admin_key);
    for l in LOCATIONS {
        catalog
            .put_location(&Location {
                id: LocationId::parse(l.id)?,
                name: l.name.to_owned(),
                kind: l.kind,
                lat: Latitude::new(l.lat)?,
                lon: Longitude::new(l.lon)?,
                timezone: "Europe/Berlin".into(),
                region: Some(l.region.to_owned()),
                capabilities: l.capabilities.to_vec(),
                curbside_bays: l.bays,
                pick_capacity: Some(l.pick_capacity),
            })
            .await
            .context("creating a demo location")?;
    }
    for (sku, title, tags) in SKUS {
        catalog
            .put_sku(&SkuRecord {
                sku: Sku::parse(sku)?,
                title: (*title).to_owned(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                reorder_point: None,
                price: None,
            })
            .await
            .context("creating a demo SKU")?;
    }
    for (sku, title, _, _) in EXCLUSIVE_SKUS {
        catalog
            .put_sku(&SkuRecord {
                sku: Sku::parse(sku)?,
                title: (*title).to_owned(),
                tags: vec!["collectibles".to_owned()],
                reorder_point: None,
                price: None,
            })
            .await
            .context("creating a demo SKU")?;
    }
    let everywhere = LOCATIONS
        .iter()
        .flat_map(|l| SKUS.iter().map(move |(sku, _, _)| (l.id, *sku, l.units)));
    let only_there = EXCLUSIVE_SKUS
        .iter()
        .map(|(sku, _, location, units)| (*location, *sku, *units));
    for (location, sku, units) in everywhere.chain(only_there) {
        let receipt = StockMovement {
            event_id: movement_id(location, sku)?,
            location_id: LocationId::parse(location)?,
            sku: Sku::parse(sku)?,
            kind: MovementKind::Receipt,
            quantity: Quantity::new(units)?,
        };
        // Allocation learns of locations and SKUs from the catalog topic: retry while it has not yet.
        eventually(
            "allocation to accept the demo stock",
            Duration::from_secs(30),
            || async {
                match allocation.record_movement(&receipt).await {
                    Ok(()) => Ok(Some(())),
                    Err(e) if e.downcast_ref::<Refused>().is_some_and(|r| r.status == 422) => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
    }
    let allocation = mesh.client(Service::Allocation, admin_key);
    let fulfillment = mesh.client(Service::Fulfillment, admin_key);
    // The storm example of docs/POLICIES.md: the last units of high-demand SKUs stay in the stores.
    for rule in demo_policies() {
        expect_ok(
            allocation.post("/v1/policies", &rule, &[]).await?,
            "create policy",
        )?;
    }
    // Routing decides from the availability topic: wait until it has seen every SKU everywhere it is.
    let stocked = SKUS
        .iter()
        .map(|(sku, _, _)| (*sku, LOCATIONS.len()))
        .chain(EXCLUSIVE_SKUS.iter().map(|(sku, _, _, _)| (*sku, 1)));
    for (sku, nodes) in stocked {
        eventually(
            "routing to see the demo stock",
            Duration::from_secs(30),
            || async {
                let answer = fulfillment.get(&format!("/v1/stock/{sku}")).await?;
                Ok(answer
                    .body
                    .as_array()
                    .filter(|seen| seen.len() == nodes)
                    .map(|_| ()))
            },
        )
        .await
        .context("waiting for availability to reach fulfillment")?;
    }
    Ok(())
}

fn expect_ok(answer: omni::client::Answer, what: &str) -> anyhow::Result<()> {
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        bail!("{what} answered {}: {}", answer.status, answer.body)
    }
}

/// A fixed id per (location, SKU) receipt, so seeding twice records it once.
fn movement_id(location: &str, sku: &str) -> anyhow::Result<MovementId> {
    let fnv = |s: &str| {
        s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    Ok(MovementId::parse(
        &uuid::Uuid::from_u64_pair(fnv(location), fnv(sku)).to_string(),
    )?)
}

/// A standard customer's web order in euros, with no promise.
pub(crate) fn web_order(
    lines: Vec<OrderLine>,
    delivery: Delivery,
    tenders: Vec<Tender>,
) -> anyhow::Result<NewOrder> {
    Ok(NewOrder {
        channel: Channel::Web,
        customer: Customer {
            id: None,
            tier: CustomerTier::Standard,
        },
        currency: Currency::parse("EUR")?,
        lines,
        delivery,
        tenders,
        promise_by: None,
        preorder: false,
        placed_at: None,
    })
}
