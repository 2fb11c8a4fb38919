//! Builders for test data, as the contract types the services take: a store, a warehouse, a SKU, stock, an
//! order. Each starts from plain defaults (Berlin, ships only, a title; a web order in euros shipped to Berlin)
//! and a test changes only what it is about: `store("STORE-1").capable(&[Ship, Pickup])`,
//! `store("S2").at(48.14, 11.58)`, `order("TEE-1", 2, 1999).card(&token)`, `order(..).on(Pos).pickup_at("S1")`.

use omni_contracts::api::{
    Capability, Channel, Customer, CustomerTier, Delivery, Latitude, Location, LocationKind, Longitude,
    MovementKind, NewOrder, OrderLine, SkuRecord, StockMovement, Tender, UnitPrice,
};
use omni_contracts::{Currency, LocationId, Money, MovementId, Quantity, Sku};

/// A store in Berlin (52.5, 13.4) that ships, named after its id.
pub fn store(id: &str) -> LocationBuilder {
    LocationBuilder::new(id, LocationKind::Store)
}

/// A warehouse in Berlin (52.5, 13.4), named after its id (warehouses only ship).
pub fn warehouse(id: &str) -> LocationBuilder {
    LocationBuilder::new(id, LocationKind::Warehouse)
}

/// A location being built; [`LocationBuilder::build`] (or `into()`) checks the id and coordinates.
#[derive(Debug, Clone)]
pub struct LocationBuilder {
    id: String,
    name: Option<String>,
    kind: LocationKind,
    lat: f64,
    lon: f64,
    region: Option<String>,
    capabilities: Vec<Capability>,
    curbside_bays: Option<u32>,
    pick_capacity: Option<u32>,
}

impl LocationBuilder {
    fn new(id: &str, kind: LocationKind) -> Self {
        Self {
            id: id.to_owned(),
            name: None,
            kind,
            lat: 52.5,
            lon: 13.4,
            region: None,
            capabilities: vec![Capability::Ship],
            curbside_bays: None,
            pick_capacity: None,
        }
    }

    /// Its display name (default: its id).
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Where it is.
    #[must_use]
    pub fn at(mut self, lat: f64, lon: f64) -> Self {
        self.lat = lat;
        self.lon = lon;
        self
    }

    /// Its region (for policies).
    #[must_use]
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }

    /// What it can do (default: ship).
    #[must_use]
    pub fn capable(mut self, capabilities: &[Capability]) -> Self {
        self.capabilities = capabilities.to_vec();
        self
    }

    /// Its curbside bays (default: 4 when it offers curbside, else none).
    #[must_use]
    pub fn bays(mut self, bays: u32) -> Self {
        self.curbside_bays = Some(bays);
        self
    }

    /// How many units it can pick a day (default: no limit).
    #[must_use]
    pub fn picking_at_most(mut self, units: u32) -> Self {
        self.pick_capacity = Some(units);
        self
    }

    /// The location.
    pub fn build(self) -> anyhow::Result<Location> {
        let curbside = self.capabilities.contains(&Capability::Curbside);
        Ok(Location {
            id: LocationId::parse(&self.id)?,
            name: self.name.unwrap_or_else(|| self.id.clone()),
            kind: self.kind,
            lat: Latitude::new(self.lat)?,
            lon: Longitude::new(self.lon)?,
            timezone: "Europe/Berlin".into(),
            region: self.region,
            capabilities: self.capabilities,
            curbside_bays: self.curbside_bays.unwrap_or(if curbside { 4 } else { 0 }),
            pick_capacity: self.pick_capacity,
        })
    }
}

/// A SKU titled after its code, no tags, no price.
pub fn sku(code: &str) -> anyhow::Result<SkuRecord> {
    Ok(SkuRecord {
        sku: Sku::parse(code)?,
        title: code.to_owned(),
        tags: vec![],
        reorder_point: None,
        price: None,
    })
}

/// [`sku`] with a list price of `minor` euro cents.
pub fn priced_sku(code: &str, minor: i64) -> anyhow::Result<SkuRecord> {
    Ok(SkuRecord {
        price: Some(Money {
            amount_minor: minor,
            currency: Currency::parse("EUR")?,
        }),
        ..sku(code)?
    })
}

/// [`sku`] with `tags` (what buffer and routing rules match on).
pub fn tagged_sku(code: &str, tags: &[&str]) -> anyhow::Result<SkuRecord> {
    Ok(SkuRecord {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..sku(code)?
    })
}

/// A receipt of `units` of `sku` at `location`, with a new movement id.
pub fn receipt(location: &str, sku: &str, units: i64) -> anyhow::Result<StockMovement> {
    Ok(StockMovement {
        event_id: MovementId::generate(),
        location_id: LocationId::parse(location)?,
        sku: Sku::parse(sku)?,
        kind: MovementKind::Receipt,
        quantity: Quantity::new(units)?,
    })
}

/// A web order in euros of `quantity` units of `sku` at `unit_price_minor` cents each, shipped to Berlin
/// (52.50, 13.35), with no tender yet (add one: [`OrderBuilder::card`], [`OrderBuilder::prepaid`]).
pub fn order(sku: &str, quantity: i64, unit_price_minor: i64) -> OrderBuilder {
    OrderBuilder {
        channel: Channel::Web,
        lines: vec![(sku.to_owned(), quantity, unit_price_minor)],
        delivery: DeliveryTo::Ship(52.50, 13.35),
        tenders: vec![],
        preorder: false,
        tier: CustomerTier::Standard,
    }
}

/// An order being built; [`OrderBuilder::build`] checks every value as the service would.
#[derive(Debug, Clone)]
pub struct OrderBuilder {
    channel: Channel,
    lines: Vec<(String, i64, i64)>,
    delivery: DeliveryTo,
    tenders: Vec<Tender>,
    preorder: bool,
    tier: CustomerTier,
}

#[derive(Debug, Clone)]
enum DeliveryTo {
    Ship(f64, f64),
    Pickup(String),
    Curbside(String),
}

impl OrderBuilder {
    /// A pre-order (it may draw on units ring-fenced for pre-orders).
    pub fn preorder(mut self) -> Self {
        self.preorder = true;
        self
    }

    /// For a customer of `tier`.
    pub fn tier(mut self, tier: CustomerTier) -> Self {
        self.tier = tier;
        self
    }

    /// Another line.
    pub fn line(mut self, sku: &str, quantity: i64, unit_price_minor: i64) -> Self {
        self.lines.push((sku.to_owned(), quantity, unit_price_minor));
        self
    }

    /// Placed on `channel` instead of the web shop.
    pub fn on(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// Shipped to these coordinates.
    pub fn ship_to(mut self, lat: f64, lon: f64) -> Self {
        self.delivery = DeliveryTo::Ship(lat, lon);
        self
    }

    /// Picked up at the counter of `store`.
    pub fn pickup_at(mut self, store: &str) -> Self {
        self.delivery = DeliveryTo::Pickup(store.to_owned());
        self
    }

    /// Handed over at the kerb of `store`.
    pub fn curbside_at(mut self, store: &str) -> Self {
        self.delivery = DeliveryTo::Curbside(store.to_owned());
        self
    }

    /// Paid (also) with the card behind a vault `token`, for the remainder of the total.
    pub fn card(mut self, token: &str) -> Self {
        self.tenders.push(Tender::card(token));
        self
    }

    /// Paid in part with the card behind a vault `token`: `amount_minor` of the total.
    pub fn card_paying(mut self, token: &str, amount_minor: i64) -> Self {
        self.tenders.push(Tender::Card {
            token: token.to_owned(),
            amount_minor: Some(amount_minor),
        });
        self
    }

    /// Paid to the marketplace already.
    pub fn prepaid(mut self) -> Self {
        self.tenders
            .push(Tender::MarketplacePrepaid { amount_minor: None });
        self
    }

    /// The order request, every value parsed.
    pub fn build(self) -> anyhow::Result<NewOrder> {
        let lines = self
            .lines
            .into_iter()
            .map(|(sku, quantity, price)| {
                Ok(OrderLine {
                    sku: Sku::parse(&sku)?,
                    quantity: Quantity::new(quantity)?,
                    unit_price_minor: UnitPrice::new(price)?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let delivery = match self.delivery {
            DeliveryTo::Ship(lat, lon) => Delivery::Ship {
                lat: Latitude::try_from(lat)?,
                lon: Longitude::try_from(lon)?,
            },
            DeliveryTo::Pickup(store) => Delivery::Pickup {
                location_id: LocationId::parse(&store)?,
            },
            DeliveryTo::Curbside(store) => Delivery::Curbside {
                location_id: LocationId::parse(&store)?,
            },
        };
        Ok(NewOrder {
            channel: self.channel,
            customer: Customer {
                id: None,
                tier: self.tier,
            },
            currency: Currency::parse("EUR")?,
            lines,
            delivery,
            tenders: self.tenders,
            promise_by: None,
            preorder: self.preorder,
            placed_at: None,
        })
    }
}
