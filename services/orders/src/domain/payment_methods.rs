//! What an order shows of its cards: the payment-method reference it kept at intake, and what payments later
//! reports of the card behind it (brand, last four digits, expiry).

use omni_contracts::api::PaymentMethod;

/// The order's tenders with the card summaries payments `reported` filled in, matched by reference (a report
/// never changes which cards an order is paid with); `None` when it adds nothing new.
pub fn with_reported_cards(
    tenders: &[PaymentMethod],
    reported: &[PaymentMethod],
) -> Option<Vec<PaymentMethod>> {
    let mut changed = false;
    let filled = tenders
        .iter()
        .map(|tender| match tender {
            PaymentMethod::Card {
                reference,
                card,
                amount_minor,
            } => {
                let summary = reported.iter().find_map(|r| match r {
                    PaymentMethod::Card {
                        reference: theirs,
                        card: Some(summary),
                        ..
                    } if theirs == reference => Some(summary),
                    _ => None,
                });
                match summary {
                    Some(summary) if card.as_ref() != Some(summary) => {
                        changed = true;
                        PaymentMethod::Card {
                            reference: reference.clone(),
                            card: Some(summary.clone()),
                            amount_minor: *amount_minor,
                        }
                    }
                    _ => tender.clone(),
                }
            }
            PaymentMethod::MarketplacePrepaid { .. }
            | PaymentMethod::GiftCard { .. }
            | PaymentMethod::StoreCredit { .. } => tender.clone(),
        })
        .collect();
    changed.then_some(filled)
}

#[cfg(test)]
mod tests {
    use omni_contracts::api::CardSummary;

    use super::*;

    fn card(reference: &str, last4: Option<&str>) -> PaymentMethod {
        PaymentMethod::Card {
            amount_minor: None,
            reference: reference.into(),
            card: last4.map(|last4| CardSummary {
                brand: "visa".into(),
                last4: last4.into(),
                exp_month: 12,
                exp_year: 2031,
            }),
        }
    }

    #[test]
    fn a_report_fills_the_cards_it_names_and_nothing_else() {
        let order = [
            card("pm_a", None),
            PaymentMethod::MarketplacePrepaid { amount_minor: None },
        ];
        let reported = [card("pm_a", Some("4242")), card("pm_other", Some("1111"))];
        assert_eq!(
            with_reported_cards(&order, &reported),
            Some(vec![
                card("pm_a", Some("4242")),
                PaymentMethod::MarketplacePrepaid { amount_minor: None }
            ])
        );
        assert_eq!(
            with_reported_cards(&[card("pm_a", Some("4242"))], &reported),
            None
        );
        assert_eq!(with_reported_cards(&[card("pm_b", None)], &reported), None);
    }
}
