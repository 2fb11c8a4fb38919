//! What an order must satisfy to be accepted.

use crate::domain::Invalid;
use chrono::{DateTime, Utc};
use omni_contracts::api::{Channel, CustomerTier, NewOrder, Tender};

/// Most lines one order may carry.
pub const MAX_LINES: usize = 100;

/// Checks business rules the wire types cannot express, and computes the total in minor units.
pub fn check(order: &NewOrder, partner: bool) -> Result<i64, Invalid> {
    if order.lines.is_empty() {
        return Err("lines: an order needs at least one line".into());
    }
    if order.lines.len() > MAX_LINES {
        return Err(Invalid(format!(
            "lines: at most {MAX_LINES} lines per order, got {}",
            order.lines.len()
        )));
    }
    let total = order
        .total_minor()
        .ok_or_else(|| Invalid::from("lines: the order total overflows"))?;
    let planned: Vec<Option<i64>> = order.tenders.iter().map(Tender::amount_minor).collect();
    omni_contracts::api::payment_plan(&planned, total).map_err(|e| Invalid(e.to_string()))?;
    if partner && order.channel != Channel::Marketplace {
        return Err("channel: a partner's orders must use the `marketplace` channel".into());
    }
    if !partner && order.channel == Channel::Marketplace {
        return Err(
            "channel: `marketplace` orders are sent by partner keys or the partner intake topic".into(),
        );
    }
    if !partner
        && order
            .tenders
            .iter()
            .any(|t| matches!(t, Tender::MarketplacePrepaid { .. }))
    {
        return Err("tenders: `marketplace_prepaid` is for partner orders only".into());
    }
    if let Some(Tender::Card { token, .. }) = order.tenders.iter().find(
        |t| matches!(t, Tender::Card { token, .. } if !omni_contracts::card_data::is_vault_token(token)),
    ) {
        let shown: String = token.chars().take(4).collect();
        return Err(Invalid(format!(
            "tenders: `{shown}…` is not a vault token; tokenize the card with the payments service first"
        )));
    }
    if let Some(i) = order.tenders.iter().position(|t| match t {
        Tender::GiftCard { code, .. } | Tender::StoreCredit { code, .. } => {
            omni_contracts::stored_value::normalize_code(code).is_none()
        }
        _ => false,
    }) {
        return Err(Invalid(format!(
            "tenders[{i}].code: not a gift card or store credit code (16 characters of A-Z and 2-7, dashes allowed)"
        )));
    }
    Ok(total)
}

/// Why an associate's order was refused on price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceRefusal {
    /// A line's price is not the list price (the message names the line and the list price).
    NotTheListPrice(String),
    /// Orders has not learned a line's SKU from the catalog yet: it cannot tell the price, so it refuses for now.
    NotKnownYet(String),
}

/// An associate sells at the catalog's list price, whatever channel the order names (a till sale called `web`
/// is still checked): each line must carry its SKU's list price. A SKU orders has not learned yet is refused
/// (it fails closed: the price might be anything); a known SKU without a list price is sold as sent. Managers
/// override prices and do not come here.
pub fn check_associate_prices(
    order: &NewOrder,
    prices: &std::collections::HashMap<String, Option<omni_contracts::Money>>,
) -> Result<(), PriceRefusal> {
    for (i, line) in order.lines.iter().enumerate() {
        let Some(known) = prices.get(line.sku.as_str()) else {
            return Err(PriceRefusal::NotKnownYet(format!(
                "lines[{i}].sku: the price of `{}` is not known to orders yet; retry shortly",
                line.sku
            )));
        };
        let Some(price) = known else {
            continue;
        };
        if price.currency != order.currency {
            return Err(PriceRefusal::NotTheListPrice(format!(
                "lines[{i}].unit_price_minor: `{}` is priced in {}, the order is in {}",
                line.sku,
                price.currency.as_str(),
                order.currency.as_str()
            )));
        }
        if price.amount_minor != line.unit_price_minor.minor() {
            return Err(PriceRefusal::NotTheListPrice(format!(
                "lines[{i}].unit_price_minor: {} is not the list price {} of `{}`; only a manager may override a price",
                line.unit_price_minor.minor(),
                price.amount_minor,
                line.sku
            )));
        }
    }
    Ok(())
}

/// The lines of a manager's order sold at another price than the list price (known SKUs with a list price in the
/// order's currency only): what a price override audit entry names.
pub fn price_overrides(
    order: &NewOrder,
    prices: &std::collections::HashMap<String, Option<omni_contracts::Money>>,
) -> Vec<serde_json::Value> {
    order
        .lines
        .iter()
        .filter_map(|line| {
            let list = prices.get(line.sku.as_str())?.as_ref()?;
            (list.currency == order.currency && list.amount_minor != line.unit_price_minor.minor()).then(
                || {
                    serde_json::json!({
                        "sku": line.sku, "before": list.amount_minor, "after": line.unit_price_minor.minor(),
                    })
                },
            )
        })
        .collect()
}

/// Where a partner stands with Omni.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerStanding {
    /// Not in `orders.partners`.
    Unknown,
    /// Registered, but its orders are not taken now.
    Disabled,
    /// Its orders are taken, within its bounds.
    Enabled(PartnerBounds),
}

impl PartnerStanding {
    /// The standing of a partner from its registration (`None`: not registered).
    pub fn of(registration: Option<&omni_config::PartnerSettings>) -> Self {
        match registration {
            None => PartnerStanding::Unknown,
            Some(p) if !p.enabled => PartnerStanding::Disabled,
            Some(p) => PartnerStanding::Enabled(PartnerBounds {
                // The configuration check admits known tiers only.
                allowed_tiers: p
                    .allowed_tiers
                    .iter()
                    .filter_map(|t| CustomerTier::parse(t))
                    .collect(),
                earliest_promise: chrono::Duration::minutes(i64::from(p.earliest_promise_minutes)),
                max_lines: usize::try_from(p.max_lines).unwrap_or(MAX_LINES).min(MAX_LINES),
            }),
        }
    }
}

/// What a partner's registration lets its orders say, so that it cannot move them ahead of everyone else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerBounds {
    /// The customer tiers its orders may name.
    pub allowed_tiers: Vec<CustomerTier>,
    /// How long after Omni takes an order its promise may fall, at the earliest.
    pub earliest_promise: chrono::Duration,
    /// Most lines per order.
    pub max_lines: usize,
}

impl Default for PartnerBounds {
    /// Standard customers, no promise before intake, Omni's own line limit.
    fn default() -> Self {
        Self {
            allowed_tiers: vec![CustomerTier::Standard],
            earliest_promise: chrono::Duration::zero(),
            max_lines: MAX_LINES,
        }
    }
}

impl PartnerBounds {
    /// Holds `order`, taken at `now`, to these bounds: a tier it may not name or too many lines are refused
    /// (the message names the bound); a promise sooner than the earliest allowed is moved to it (an order
    /// already late is due now, not before every other).
    pub fn apply(&self, order: &mut NewOrder, now: DateTime<Utc>) -> Result<(), Invalid> {
        if !self.allowed_tiers.contains(&order.customer.tier) {
            return Err(Invalid(format!(
                "customer.tier: `{}` is not a tier this partner may name (allowed: {})",
                order.customer.tier.as_str(),
                self.allowed_tiers
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if order.lines.len() > self.max_lines {
            return Err(Invalid(format!(
                "lines: this partner may send at most {} lines per order, got {}",
                self.max_lines,
                order.lines.len()
            )));
        }
        let earliest = now + self.earliest_promise;
        if order.promise_by.is_none_or(|promise| promise < earliest) {
            order.promise_by = Some(earliest);
        }
        Ok(())
    }
}

/// Business rules of a partner order beyond its schema: a registered, enabled partner, a total that adds up, and
/// the partner's bounds (see [`PartnerBounds::apply`]) at `now`. Returns the order Omni takes for it and its
/// total.
pub fn check_partner_order(
    order: &omni_contracts::api::PartnerOrder,
    standing: &PartnerStanding,
    now: DateTime<Utc>,
) -> Result<(NewOrder, i64), Invalid> {
    let bounds = match standing {
        PartnerStanding::Unknown => {
            return Err(Invalid(format!(
                "partner_id: `{}` is not a registered partner",
                order.partner_id
            )));
        }
        PartnerStanding::Disabled => {
            return Err(Invalid(format!(
                "partner_id: `{}` is disabled; its orders are not taken",
                order.partner_id
            )));
        }
        PartnerStanding::Enabled(bounds) => bounds,
    };
    if order.partner_order_id.is_empty() || order.partner_order_id.len() > 128 {
        return Err("partner_order_id: must be 1 to 128 characters".into());
    }
    let mut new_order = order.to_new_order();
    let total = check(&new_order, true)?;
    bounds.apply(&mut new_order, now)?;
    if total != order.total_minor {
        return Err(Invalid(format!(
            "total_minor: {} does not add up; the lines come to {total}",
            order.total_minor
        )));
    }
    Ok((new_order, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(json: serde_json::Value) -> NewOrder {
        serde_json::from_value(json).unwrap()
    }

    fn web_order() -> serde_json::Value {
        serde_json::json!({
            "channel": "web", "currency": "EUR",
            "lines": [{"sku": "A", "quantity": 2, "unit_price_minor": 1500}, {"sku": "B", "quantity": 1, "unit_price_minor": 999}],
            "delivery": {"type": "ship", "lat": 52.5, "lon": 13.4},
            "tenders": [{"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx"}]
        })
    }

    #[test]
    fn the_total_is_the_sum_of_the_lines() {
        assert_eq!(check(&order(web_order()), false).unwrap(), 3999);
    }

    #[test]
    fn a_raw_card_number_as_token_is_refused_without_echoing_it() {
        let mut o = web_order();
        o["tenders"][0]["token"] = serde_json::json!("4242424242424241");
        let err = check(&order(o), false).unwrap_err().0;
        assert!(!err.contains("4242424242424241"), "{err}");
        let mut o = web_order();
        o["tenders"][0]["token"] = serde_json::json!("tok_4242424242424242");
        let err = check(&order(o), false).unwrap_err().0;
        assert!(
            err.contains("not a vault token") && !err.contains("4242"),
            "{err}"
        );
    }

    #[test]
    fn a_split_tender_plan_is_taken_when_it_adds_up_and_resolved_on_the_order() {
        let mut o = web_order();
        o["tenders"] = serde_json::json!([
            {"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx", "amount_minor": 1000},
            {"type": "card", "token": "tok_bbcdefghijklmnopqrstuvwx"}
        ]);
        let order = order(o);
        assert_eq!(check(&order, false).unwrap(), 3999);
        let amounts: Vec<_> = order
            .accepted()
            .tenders
            .iter()
            .map(|t| t.amount_minor())
            .collect();
        assert_eq!(amounts, [Some(1000), Some(2999)]);
    }

    #[test]
    fn a_plan_that_does_not_add_up_is_refused_naming_the_field() {
        for (tenders, expected) in [
            (
                serde_json::json!([
                    {"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx", "amount_minor": 1000},
                    {"type": "card", "token": "tok_bbcdefghijklmnopqrstuvwx", "amount_minor": 1000}
                ]),
                "tenders: the amounts add up to 2000, the order total is 3999",
            ),
            (
                serde_json::json!([
                    {"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx"},
                    {"type": "card", "token": "tok_bbcdefghijklmnopqrstuvwx"}
                ]),
                "tenders[1].amount_minor: only one tender may pay the remainder",
            ),
            (
                serde_json::json!([
                    {"type": "card", "token": "tok_abcdefghijklmnopqrstuvwx", "amount_minor": 0},
                    {"type": "card", "token": "tok_bbcdefghijklmnopqrstuvwx"}
                ]),
                "tenders[0].amount_minor: must be above 0",
            ),
            (
                serde_json::json!([]),
                "tenders: an order needs at least one tender",
            ),
        ] {
            let mut o = web_order();
            o["tenders"] = tenders;
            let err = check(&order(o), false).unwrap_err().0;
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn a_web_caller_cannot_claim_the_marketplace_channel() {
        let mut o = web_order();
        o["channel"] = serde_json::json!("marketplace");
        assert!(check(&order(o), false).unwrap_err().0.starts_with("channel"));
    }

    fn partner_order(total: i64) -> omni_contracts::api::PartnerOrder {
        serde_json::from_value(serde_json::json!({
            "partner_id": "northwind-market", "partner_order_id": "NW-1", "placed_at": "2026-11-23T09:00:00Z",
            "currency": "EUR", "customer": {"tier": "standard"},
            "lines": [{"sku": "A", "quantity": 2, "unit_price_minor": 1500}],
            "total_minor": total, "delivery": {"type": "ship", "lat": 52.5, "lon": 13.4},
            "promise_by": "2026-11-25T18:00:00Z", "tenders": [{"type": "marketplace_prepaid"}]
        }))
        .unwrap()
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_partner_order_must_come_from_an_enabled_partner_and_add_up() {
        let enabled = PartnerStanding::Enabled(PartnerBounds::default());
        let now = at("2026-11-24T09:00:00Z");
        let (order, total) = check_partner_order(&partner_order(3000), &enabled, now).unwrap();
        assert_eq!((order.channel, total), (Channel::Marketplace, 3000));
        let err = check_partner_order(&partner_order(2999), &enabled, now)
            .unwrap_err()
            .0;
        assert!(err.starts_with("total_minor") && err.contains("3000"), "{err}");
        let err = check_partner_order(&partner_order(3000), &PartnerStanding::Unknown, now)
            .unwrap_err()
            .0;
        assert!(err.contains("not a registered partner"), "{err}");
        let err = check_partner_order(&partner_order(3000), &PartnerStanding::Disabled, now)
            .unwrap_err()
            .0;
        assert!(err.contains("disabled"), "{err}");
    }

    #[test]
    fn a_partner_cannot_name_a_tier_or_a_promise_its_registration_does_not_allow() {
        let bounds = PartnerBounds {
            earliest_promise: chrono::Duration::hours(2),
            ..PartnerBounds::default()
        };
        let standing = PartnerStanding::Enabled(bounds.clone());
        let now = at("2026-11-25T17:00:00Z");
        let (order, _) = check_partner_order(&partner_order(3000), &standing, now).unwrap();
        assert_eq!(
            order.promise_by,
            Some(at("2026-11-25T19:00:00Z")),
            "a promise sooner than allowed is moved to the earliest allowed"
        );
        let (order, _) =
            check_partner_order(&partner_order(3000), &standing, at("2026-11-20T09:00:00Z")).unwrap();
        assert_eq!(
            order.promise_by,
            Some(at("2026-11-25T18:00:00Z")),
            "a later promise stands"
        );

        let mut vip = partner_order(3000);
        vip.customer.tier = CustomerTier::Vip;
        let err = check_partner_order(&vip, &standing, now).unwrap_err().0;
        assert!(
            err.starts_with("customer.tier") && err.contains("standard"),
            "{err}"
        );
        let allowed = PartnerStanding::Enabled(PartnerBounds {
            allowed_tiers: vec![CustomerTier::Standard, CustomerTier::Vip],
            ..bounds.clone()
        });
        assert!(check_partner_order(&vip, &allowed, now).is_ok());

        let one_line = PartnerStanding::Enabled(PartnerBounds {
            max_lines: 1,
            ..bounds
        });
        let mut two = partner_order(4500);
        two.lines.push(two.lines[0].clone());
        two.lines[1].quantity = omni_contracts::Quantity::try_from(1_i64).unwrap();
        let err = check_partner_order(&two, &one_line, now).unwrap_err().0;
        assert!(err.starts_with("lines") && err.contains("at most 1"), "{err}");
    }

    #[test]
    fn an_associate_sells_at_the_list_price_on_any_channel_and_never_at_an_unknown_one() {
        let eur = omni_contracts::Currency::parse("EUR").unwrap();
        let mut prices: std::collections::HashMap<String, Option<omni_contracts::Money>> = [
            (
                "A".to_owned(),
                Some(omni_contracts::Money {
                    amount_minor: 1500,
                    currency: eur,
                }),
            ),
            ("B".to_owned(), None),
        ]
        .into();
        for channel in ["pos", "web"] {
            let mut raw = web_order();
            raw["channel"] = serde_json::json!(channel);
            let till = order(raw);
            assert_eq!(
                check_associate_prices(&till, &prices),
                Ok(()),
                "A at its price, B has none"
            );
            let mut cheaper = till.clone();
            cheaper.lines[0].unit_price_minor = omni_contracts::api::UnitPrice::new(999).unwrap();
            match check_associate_prices(&cheaper, &prices) {
                Err(PriceRefusal::NotTheListPrice(m)) => {
                    assert!(
                        m.starts_with("lines[0].unit_price_minor") && m.contains("1500"),
                        "{m}"
                    );
                }
                other => panic!("{channel}: {other:?}"),
            }
        }
        prices.remove("B");
        match check_associate_prices(&order(web_order()), &prices) {
            Err(PriceRefusal::NotKnownYet(m)) => assert!(m.starts_with("lines[1].sku"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
