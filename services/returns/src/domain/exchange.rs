//! Exchanges, free of I/O: what a replacement order costs, what the returned units pay of it (the credit), what
//! its tenders must pay, and, once the units are in, whether the exchange goes on and what is refunded beside it.

use omni_contracts::OrderId;
use omni_contracts::api::{Payer, PaymentMethod, payment_plan};
use omni_contracts::returns::{Exchange, ExchangeRequest, ExchangeStatus};

/// The most lines a replacement order may have (as any order).
pub const MAX_LINES: usize = 100;

/// Why an exchange request is refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Plans the exchange `request` of returned units worth `worth_minor` as replacement order `order_id`: the
/// replacement's total, the credit (what the units are worth, at most the total) and the tenders that pay the
/// rest, each with its amount. The tenders must pay exactly the rest: none when the credit covers it all.
pub fn plan(
    request: &ExchangeRequest,
    worth_minor: i64,
    order_id: OrderId,
    placed_by: &Payer,
) -> Result<Exchange, Invalid> {
    if request.lines.is_empty() || request.lines.len() > MAX_LINES {
        return Err(Invalid(format!(
            "exchange.lines: 1 to {MAX_LINES} lines, got {}",
            request.lines.len()
        )));
    }
    let total_minor = request
        .lines
        .iter()
        .try_fold(0i64, |total, line| {
            i64::from(line.quantity.get())
                .checked_mul(line.unit_price_minor.minor())
                .and_then(|l| total.checked_add(l))
        })
        .ok_or_else(|| Invalid("exchange.lines: the total overflows".into()))?;
    let credit_minor = worth_minor.clamp(0, total_minor);
    let rest = total_minor - credit_minor;
    if rest == 0 && !request.tenders.is_empty() {
        return Err(Invalid(format!(
            "exchange.tenders: the returned units ({worth_minor}) pay the whole replacement ({total_minor}); \
             leave the tenders out"
        )));
    }
    let tenders = if rest == 0 {
        Vec::new()
    } else {
        if request.tenders.is_empty() {
            return Err(Invalid(format!(
                "exchange.tenders: the replacement ({total_minor}) costs {rest} more than the returned units are \
                 worth ({worth_minor}); name what pays it"
            )));
        }
        let planned: Vec<Option<i64>> = request.tenders.iter().map(|t| t.amount_minor()).collect();
        let amounts = payment_plan(&planned, rest)
            .map_err(|e| Invalid(format!("exchange.{e} (the difference to pay is {rest})")))?;
        request
            .tenders
            .iter()
            .zip(amounts)
            .enumerate()
            .map(|(i, (tender, amount))| {
                let method = tender.to_payment_method();
                let unusable = match &method {
                    PaymentMethod::GiftCard { reference, .. }
                    | PaymentMethod::StoreCredit { reference, .. } => reference.is_empty(),
                    PaymentMethod::Card { .. } | PaymentMethod::MarketplacePrepaid { .. } => false,
                };
                if unusable {
                    return Err(Invalid(format!(
                        "exchange.tenders[{i}].code: not a code of the form XXXX-XXXX-XXXX-XXXX"
                    )));
                }
                Ok(method.with_amount(amount))
            })
            .collect::<Result<_, _>>()?
    };
    Ok(Exchange {
        order_id,
        lines: request.lines.clone(),
        delivery: request.delivery.clone(),
        total_minor,
        credit_minor,
        tenders,
        placed_by: placed_by.clone(),
        status: ExchangeStatus::Held,
        cancelled_reason: None,
        rest_refunded_minor: None,
    })
}

/// What a held exchange comes to once the units are in, worth `received_minor` (refunds of the units that came,
/// and of those a manager refunded anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnReceipt {
    /// The replacement goes on: `credit_minor` is issued as store credit for it, `rest_minor` (what the units are
    /// worth beyond it) refunded to the original tenders.
    Release {
        /// The credit, as planned.
        credit_minor: i64,
        /// What is refunded beside it.
        rest_minor: i64,
    },
    /// The units are worth less than the credit the replacement counts on: it is withdrawn, and what they are
    /// worth refunded instead.
    Short {
        /// Why, for the return and the replacement's customer.
        reason: String,
    },
}

/// Decides a held exchange on receipt of units worth `received_minor`.
pub fn on_receipt(exchange: &Exchange, received_minor: i64) -> OnReceipt {
    if received_minor >= exchange.credit_minor {
        OnReceipt::Release {
            credit_minor: exchange.credit_minor,
            rest_minor: received_minor - exchange.credit_minor,
        }
    } else {
        OnReceipt::Short {
            reason: format!(
                "the units received are worth {received_minor}, less than the {} the replacement counts on",
                exchange.credit_minor
            ),
        }
    }
}

/// Whether a return with this exchange is settled once its other money is in: a released exchange when its rest
/// (if any) was refunded; `None` when it has no say (no exchange, or one cancelled: the refund settles it).
pub fn settled(exchange: &Exchange, received_minor: i64) -> Option<bool> {
    match exchange.status {
        ExchangeStatus::Cancelled => None,
        ExchangeStatus::Held => Some(false),
        ExchangeStatus::Released => {
            let rest = received_minor - exchange.credit_minor;
            Some(rest <= 0 || exchange.rest_refunded_minor.is_some())
        }
    }
}

#[cfg(test)]
mod tests {
    use omni_contracts::api::{Delivery, OrderLine, Tender, UnitPrice};
    use omni_contracts::{LocationId, Quantity, Sku};

    use super::*;

    fn request(price: i64, tenders: Vec<Tender>) -> Result<ExchangeRequest, Box<dyn std::error::Error>> {
        Ok(ExchangeRequest {
            lines: vec![OrderLine {
                sku: Sku::parse("TEE-M")?,
                quantity: Quantity::new(1)?,
                unit_price_minor: UnitPrice::new(price)?,
            }],
            delivery: Delivery::Pickup {
                location_id: LocationId::parse("store-b")?,
            },
            tenders,
        })
    }

    #[test]
    fn an_even_exchange_needs_no_tender() -> Result<(), Box<dyn std::error::Error>> {
        let planned = plan(
            &request(2000, vec![])?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        )
        .map_err(|e| e.0)?;
        assert_eq!((planned.total_minor, planned.credit_minor), (2000, 2000));
        assert!(planned.tenders.is_empty());
        let refused = plan(
            &request(2000, vec![Tender::card("tok")])?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        );
        assert!(refused.is_err_and(|e| e.0.contains("leave the tenders out")));
        Ok(())
    }

    #[test]
    fn a_dearer_replacement_is_paid_the_difference_by_its_tenders() -> Result<(), Box<dyn std::error::Error>>
    {
        let unpaid = plan(
            &request(2500, vec![])?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        );
        assert!(unpaid.is_err_and(|e| e.0.contains("costs 500 more")));
        let planned = plan(
            &request(2500, vec![Tender::card("tok")])?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        )
        .map_err(|e| e.0)?;
        assert_eq!(planned.credit_minor, 2000);
        assert_eq!(planned.tenders.len(), 1);
        assert_eq!(planned.tenders[0].amount_minor(), Some(500));
        let wrong = plan(
            &request(
                2500,
                vec![Tender::Card {
                    token: "tok".into(),
                    amount_minor: Some(400),
                }],
            )?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        );
        assert!(wrong.is_err_and(|e| e.0.starts_with("exchange.tenders")));
        Ok(())
    }

    #[test]
    fn a_cheaper_replacement_leaves_the_rest_refunded() -> Result<(), Box<dyn std::error::Error>> {
        let mut planned = plan(
            &request(1500, vec![])?,
            2000,
            OrderId::generate(),
            &Payer::principal("alice"),
        )
        .map_err(|e| e.0)?;
        assert_eq!(planned.credit_minor, 1500);
        assert_eq!(
            on_receipt(&planned, 2000),
            OnReceipt::Release {
                credit_minor: 1500,
                rest_minor: 500
            }
        );
        assert!(matches!(on_receipt(&planned, 0), OnReceipt::Short { .. }));
        assert_eq!(settled(&planned, 2000), Some(false));
        planned.status = ExchangeStatus::Released;
        assert_eq!(settled(&planned, 2000), Some(false));
        planned.rest_refunded_minor = Some(500);
        assert_eq!(settled(&planned, 2000), Some(true));
        planned.status = ExchangeStatus::Cancelled;
        assert_eq!(settled(&planned, 2000), None);
        Ok(())
    }
}
