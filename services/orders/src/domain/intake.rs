//! What an order must satisfy to be accepted.

use omni_contracts::api::{Channel, NewOrder, Tender};

/// Most lines one order may carry.
pub const MAX_LINES: usize = 100;

/// Checks business rules the wire types cannot express, and computes the total in minor units.
pub fn check(order: &NewOrder, partner: bool) -> Result<i64, String> {
    if order.lines.is_empty() {
        return Err("lines: an order needs at least one line".into());
    }
    if order.lines.len() > MAX_LINES {
        return Err(format!(
            "lines: at most {MAX_LINES} lines per order, got {}",
            order.lines.len()
        ));
    }
    if order.tenders.is_empty() {
        return Err("tenders: an order needs at least one tender".into());
    }
    if order.tenders.len() > 1 {
        return Err("tenders: split tenders are not supported yet; send exactly one".into());
    }
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
            .any(|t| matches!(t, Tender::MarketplacePrepaid {}))
    {
        return Err("tenders: `marketplace_prepaid` is for partner orders only".into());
    }
    if let Some(Tender::Card { token }) = order
        .tenders
        .iter()
        .find(|t| matches!(t, Tender::Card { token } if !token.starts_with("tok_")))
    {
        let shown: String = token.chars().take(4).collect();
        return Err(format!(
            "tenders: `{shown}…` is not a vault token; tokenize the card with the payments service first"
        ));
    }
    order.lines.iter().try_fold(0i64, |total, line| {
        i64::from(line.quantity)
            .checked_mul(line.unit_price_minor.minor())
            .and_then(|l| total.checked_add(l))
            .ok_or_else(|| "lines: the order total overflows".to_owned())
    })
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
            "tenders": [{"type": "card", "token": "tok_abc"}]
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
        let err = check(&order(o), false).unwrap_err();
        assert!(!err.contains("4242424242424241"), "{err}");
    }

    #[test]
    fn a_web_caller_cannot_claim_the_marketplace_channel() {
        let mut o = web_order();
        o["channel"] = serde_json::json!("marketplace");
        assert!(check(&order(o), false).unwrap_err().starts_with("channel"));
    }
}
