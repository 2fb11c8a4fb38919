//! What a returned unit refunds (DESIGN §7): the line's unit price net of its share of the order's discounts (the
//! order's total against the sum of its lines), rounded down, so the refunds of every unit of an order never add up
//! to more than was paid. A unit that was not received refunds nothing. Pure.

use omni_contracts::Sku;
use omni_contracts::api::OrderLine;

/// The net price of one unit of `sku` on an order with `lines` and `total_minor`; `None` when the order has no
/// such line.
pub fn unit_refund(lines: &[OrderLine], total_minor: i64, sku: &Sku) -> Option<i64> {
    let line = lines.iter().find(|l| &l.sku == sku)?;
    let gross: i128 = lines
        .iter()
        .map(|l| i128::from(l.unit_price_minor.minor()) * i128::from(l.quantity.get()))
        .sum();
    let price = i128::from(line.unit_price_minor.minor());
    if gross <= 0 || i128::from(total_minor) >= gross {
        return i64::try_from(price).ok();
    }
    i64::try_from(price * i128::from(total_minor.max(0)) / gross).ok()
}

#[cfg(test)]
mod tests {
    use omni_contracts::Quantity;
    use omni_contracts::api::UnitPrice;

    use super::*;

    fn line(sku: &str, quantity: u32, price: i64) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(i64::from(quantity)).unwrap(),
            unit_price_minor: UnitPrice::new(price).unwrap(),
        }
    }

    #[test]
    fn a_unit_refunds_its_price_net_of_its_share_of_the_discount() {
        let lines = [line("TEE", 2, 1_999), line("MUG", 1, 899)];
        let tee = Sku::parse("TEE").unwrap();
        assert_eq!(unit_refund(&lines, 4_897, &tee), Some(1_999), "no discount");
        // 10 % off the order: 4,407 of 4,897.
        let net = unit_refund(&lines, 4_407, &tee).unwrap();
        assert_eq!(net, 1_798);
        let mug = unit_refund(&lines, 4_407, &Sku::parse("MUG").unwrap()).unwrap();
        assert!(2 * net + mug <= 4_407, "never more than was paid");
        assert_eq!(unit_refund(&lines, 4_407, &Sku::parse("CAP").unwrap()), None);
    }
}
