//! Allocation rules that need no I/O.

pub mod policy;

use std::collections::BTreeMap;

use omni_contracts::api::MovementKind;
use omni_contracts::events::HoldLine;
use omni_contracts::{Quantity, Sku};

/// Available to promise: on-hand minus reserved, never below zero.
pub fn atp(on_hand: i64, reserved: i64) -> i64 {
    (on_hand - reserved).max(0)
}

/// On-hand by location, in location order, from a checkpoint's rows and the sums of the movements after it (a
/// location may be in both): a location in either is there, at 0 too.
pub fn levels(amounts: impl IntoIterator<Item = (String, i64)>) -> Vec<(String, i64)> {
    let mut levels: BTreeMap<String, i64> = BTreeMap::new();
    for (location, amount) in amounts {
        *levels.entry(location).or_default() += amount;
    }
    levels.into_iter().collect()
}

/// How a movement changes on-hand, given the current on-hand (a count sets an absolute level).
pub fn movement_delta(kind: MovementKind, quantity: Quantity, current_on_hand: i64) -> i64 {
    let q = i64::from(quantity);
    match kind {
        MovementKind::Receipt
        | MovementKind::Adjustment
        | MovementKind::TransferIn
        | MovementKind::ReturnRestock => q,
        MovementKind::PosSale | MovementKind::TransferOut => -q,
        MovementKind::Count => q - current_on_hand,
    }
}

/// What a movement takes from on-hand in the hold store before the ledger records it (DESIGN §4: whatever takes
/// units goes to the hold store first, so a crash in between undersells, never oversells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeAhead {
    /// Nothing: the movement brings units (they follow once the ledger has them).
    Nothing,
    /// This many units leave (a till sale, a transfer out).
    By(i64),
    /// On-hand goes down to this level if it is above it (a count).
    DownTo(i64),
}

/// What `kind` takes ahead of the ledger.
pub fn take_ahead(kind: MovementKind, quantity: Quantity) -> TakeAhead {
    let q = i64::from(quantity);
    match kind {
        MovementKind::Receipt
        | MovementKind::Adjustment
        | MovementKind::TransferIn
        | MovementKind::ReturnRestock => TakeAhead::Nothing,
        MovementKind::PosSale | MovementKind::TransferOut => TakeAhead::By(q),
        MovementKind::Count => TakeAhead::DownTo(q),
    }
}

/// What the hold store still owes a movement once the ledger recorded it with `delta`, when it took `taken`
/// units ahead under the generation the ledger recorded it under (the rest of a count's change, say).
pub fn still_owed(delta: i64, taken: i64) -> i64 {
    delta + taken
}

/// Merges lines on the same SKU, so two lines of one order can never each pass the stock check alone.
pub fn merge_lines(lines: &[HoldLine]) -> Result<Vec<HoldLine>, omni_contracts::ContractError> {
    let mut by_sku: BTreeMap<&Sku, i64> = BTreeMap::new();
    for line in lines {
        *by_sku.entry(&line.sku).or_default() += i64::from(line.quantity);
    }
    by_sku
        .into_iter()
        .map(|(sku, q)| {
            Quantity::new(q).map(|quantity| HoldLine {
                sku: sku.clone(),
                quantity,
            })
        })
        .collect()
}

/// Most locations one hold may be split across.
pub const MAX_SPLIT_LOCATIONS: usize = 5;

/// Splits merged `lines` across locations when no single one can hold them all: greedily the location that
/// covers most of what is still missing first (ties by id), so as few locations as possible; one line's units
/// may come from several. `available` is what the caller may take per location and SKU. `None` when even all
/// locations together (at most [`MAX_SPLIT_LOCATIONS`]) fall short.
pub fn split_plan<L: Clone + Ord>(
    lines: &[HoldLine],
    available: &BTreeMap<L, BTreeMap<Sku, i64>>,
) -> Option<Vec<(L, Vec<HoldLine>)>> {
    let mut missing: BTreeMap<&Sku, i64> = lines.iter().map(|l| (&l.sku, i64::from(l.quantity))).collect();
    let mut left: BTreeMap<&L, &BTreeMap<Sku, i64>> = available.iter().collect();
    let mut plan = Vec::new();
    while missing.values().any(|q| *q > 0) {
        if plan.len() == MAX_SPLIT_LOCATIONS {
            return None;
        }
        let covers = |stock: &BTreeMap<Sku, i64>| -> i64 {
            missing
                .iter()
                .map(|(sku, q)| (*q).min(stock.get(*sku).copied().unwrap_or(0).max(0)))
                .sum()
        };
        let (location, stock) = left
            .iter()
            .map(|(l, s)| (*l, *s, covers(s)))
            .filter(|(_, _, c)| *c > 0)
            .max_by(|a, b| a.2.cmp(&b.2).then_with(|| b.0.cmp(a.0)))
            .map(|(l, s, _)| (l.clone(), s))?;
        left.remove(&location);
        let mut part = Vec::new();
        for (sku, q) in missing.iter_mut() {
            let take = (*q).min(stock.get(*sku).copied().unwrap_or(0).max(0));
            if take > 0 {
                *q -= take;
                part.push(HoldLine {
                    sku: (*sku).clone(),
                    quantity: Quantity::new(take).ok()?,
                });
            }
        }
        plan.push((location, part));
    }
    Some(plan)
}

#[cfg(test)]
mod split_tests {
    use super::*;

    fn line(sku: &str, q: i64) -> HoldLine {
        HoldLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(q).unwrap(),
        }
    }

    fn stock(entries: &[(&'static str, &[(&str, i64)])]) -> BTreeMap<&'static str, BTreeMap<Sku, i64>> {
        entries
            .iter()
            .map(|(l, skus)| {
                (
                    *l,
                    skus.iter().map(|(s, q)| (Sku::parse(s).unwrap(), *q)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_location_covering_most_goes_first_and_the_rest_comes_from_the_next() {
        let available = stock(&[
            ("A", &[("X", 2), ("Y", 5)]),
            ("B", &[("X", 3)]),
            ("C", &[("Y", 1)]),
        ]);
        let plan = split_plan(&[line("X", 4), line("Y", 3)], &available).unwrap();
        assert_eq!(
            plan,
            vec![("A", vec![line("X", 2), line("Y", 3)]), ("B", vec![line("X", 2)])]
        );
    }

    #[test]
    fn no_plan_when_everything_together_is_short() {
        let available = stock(&[("A", &[("X", 2)]), ("B", &[("X", 1)])]);
        assert_eq!(split_plan(&[line("X", 4)], &available), None);
    }

    #[test]
    fn no_more_than_the_most_locations() {
        let available: BTreeMap<String, BTreeMap<Sku, i64>> = (0..10)
            .map(|i| (format!("L{i}"), BTreeMap::from([(Sku::parse("X").unwrap(), 1)])))
            .collect();
        assert_eq!(split_plan(&[line("X", 6)], &available), None);
        assert_eq!(split_plan(&[line("X", 5)], &available).map(|p| p.len()), Some(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: &str, q: i64) -> HoldLine {
        HoldLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(q).unwrap(),
        }
    }

    #[test]
    fn two_lines_on_one_sku_are_checked_as_one() {
        let merged = merge_lines(&[line("A", 1), line("B", 2), line("A", 2)]).unwrap();
        assert_eq!(merged, vec![line("A", 3), line("B", 2)]);
    }

    #[test]
    fn a_count_sets_an_absolute_level() {
        assert_eq!(
            movement_delta(MovementKind::Count, Quantity::new(7).unwrap(), 10),
            -3
        );
        assert_eq!(
            movement_delta(MovementKind::PosSale, Quantity::new(2).unwrap(), 10),
            -2
        );
    }

    #[test]
    fn atp_never_goes_negative() {
        assert_eq!(atp(2, 5), 0);
        assert_eq!(atp(5, 2), 3);
    }
}

/// Which holds a shortfall hits: the newest first, until their units cover what is missing.
/// `holds` are `(id, quantity)` newest first; returns the units short and the affected holds.
pub fn short_holds<T: Clone>(on_hand: i64, holds: &[(T, i64)]) -> (i64, Vec<T>) {
    let reserved: i64 = holds.iter().map(|(_, q)| q).sum();
    let short = reserved - on_hand.max(0);
    if short <= 0 {
        return (0, Vec::new());
    }
    let mut covered = 0;
    let affected = holds
        .iter()
        .take_while(|(_, q)| {
            let needed = covered < short;
            covered += q;
            needed
        })
        .map(|(id, _)| id.clone())
        .collect();
    (short, affected)
}

/// Units to ask for when on-hand went from `before` to `after`: `Some` only for the movement that crosses the
/// reorder point downwards; enough to bring on-hand back to twice the reorder point.
pub fn replenishment_needed(reorder_point: i64, before: i64, after: i64) -> Option<i64> {
    (before >= reorder_point && after < reorder_point).then(|| (2 * reorder_point - after).max(1))
}

/// The location that can give `quantity` and still keep its own reorder point, with the most to spare.
pub fn best_donor<L: Clone>(donors: &[(L, i64)], reorder_point: i64, quantity: i64) -> Option<L> {
    donors
        .iter()
        .filter(|(_, atp)| atp - quantity >= reorder_point)
        .max_by_key(|(_, atp)| *atp)
        .map(|(l, _)| l.clone())
}

#[cfg(test)]
mod replenishment_tests {
    use super::{best_donor, replenishment_needed};

    #[test]
    fn only_the_movement_that_crosses_the_reorder_point_asks() {
        assert_eq!(replenishment_needed(5, 6, 4), Some(6));
        assert_eq!(
            replenishment_needed(5, 4, 3),
            None,
            "already below: no second request"
        );
        assert_eq!(
            replenishment_needed(5, 9, 5),
            None,
            "at the point is not below it"
        );
    }

    #[test]
    fn a_transfer_comes_from_the_location_with_most_to_spare() {
        assert_eq!(best_donor(&[("A", 12), ("B", 30), ("C", 9)], 5, 6), Some("B"));
        assert_eq!(
            best_donor(&[("A", 10)], 5, 6),
            None,
            "giving 6 would put A under its own point"
        );
    }
}

#[cfg(test)]
mod shortage_tests {
    use super::short_holds;

    #[test]
    fn the_newest_holds_are_the_short_ones() {
        // 5 held (newest first: 2, 1, 2); a POS sale leaves 2 on hand: 3 short, the two newest holds are hit.
        assert_eq!(
            short_holds(2, &[("c", 2), ("b", 1), ("a", 2)]),
            (3, vec!["c", "b"])
        );
    }

    #[test]
    fn no_shortage_when_on_hand_covers_the_holds() {
        assert_eq!(short_holds(5, &[("a", 5)]), (0, Vec::<&str>::new()));
    }
}

#[cfg(test)]
mod levels_tests {
    use super::*;

    #[test]
    fn levels_add_up_by_location_in_location_order() {
        let amounts = [
            ("B".to_owned(), 5),
            ("A".to_owned(), 0),
            ("C".to_owned(), 2),
            ("B".to_owned(), -3),
        ];
        assert_eq!(
            levels(amounts),
            vec![("A".to_owned(), 0), ("B".to_owned(), 2), ("C".to_owned(), 2)]
        );
        assert_eq!(levels([]), Vec::<(String, i64)>::new());
    }
}
