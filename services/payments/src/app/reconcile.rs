//! The reconcile (DESIGN §6, issue 22): nightly by default (`payments.reconcile_interval_seconds`), each card
//! tender of the intents of the last `payments.reconcile_window_days` is compared with the PSP's own record of its
//! authorization (`domain::reconcile`; the ledger read before and after the lookup, so money moving meanwhile is
//! never reported). Differences are announced (`omni.payment.reconcile_difference`, one per
//! tender) and counted in `omni_payments_reconcile_differences` (the last run's) and
//! `omni_payments_reconcile_tenders` (tenders compared); an operator reads them with the tender's operations.

use std::time::Duration;

use omni_contracts::events::{PaymentEvent, PaymentReconcileDifference, TenderBuckets};
use omni_contracts::{Envelope, PaymentIntentId};

use crate::app::State;
use crate::db::intents;
use crate::db::tender_ledger::{self, TenderKey};
use crate::domain::intent::TenderKind;
use crate::domain::psp::PspRecord;
use crate::domain::reconcile::{Difference, compare};
use crate::error::Result;

/// Intents read per page.
const PAGE: i64 = 200;

/// What one reconcile found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Card tenders compared.
    pub tenders: u64,
    /// Those that differ.
    pub differences: Vec<PaymentReconcileDifference>,
}

/// The reconcile's metrics.
#[derive(Clone)]
pub struct ReconcileMetrics {
    /// `omni_payments_reconcile_differences`: tenders that differed at the last run.
    pub differences: prometheus::IntGauge,
    /// `omni_payments_reconcile_tenders`: tenders compared at the last run.
    pub tenders: prometheus::IntGauge,
}

impl ReconcileMetrics {
    /// Creates and registers them.
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let differences = prometheus::IntGauge::new(
            "payments_reconcile_differences",
            "Card tenders whose buckets differed from the PSP's record at the last reconcile",
        )?;
        let tenders = prometheus::IntGauge::new(
            "payments_reconcile_tenders",
            "Card tenders compared with the PSP's record at the last reconcile",
        )?;
        registry.register(Box::new(differences.clone()))?;
        registry.register(Box::new(tenders.clone()))?;
        Ok(Self { differences, tenders })
    }
}

/// The job: every `every`, reconciles the intents of the last `window`, until `shutdown`.
pub fn run(
    state: State,
    every: Duration,
    window: chrono::Duration,
    metrics: ReconcileMetrics,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            match reconcile(&state, chrono::Utc::now() - window).await {
                Ok(report) => {
                    metrics
                        .tenders
                        .set(i64::try_from(report.tenders).unwrap_or(i64::MAX));
                    metrics
                        .differences
                        .set(i64::try_from(report.differences.len()).unwrap_or(i64::MAX));
                    tracing::info!(
                        tenders = report.tenders,
                        differences = report.differences.len(),
                        "Ledger reconciled with the PSP."
                    );
                }
                Err(e) => tracing::warn!(error = %e, "The reconcile failed; it runs again at its next time."),
            }
        }
    })
}

/// Compares every card tender of the intents made since `since` with the PSP and announces the differences.
pub async fn reconcile(state: &State, since: chrono::DateTime<chrono::Utc>) -> Result<Report> {
    let mut report = Report::default();
    let mut after: Option<PaymentIntentId> = None;
    loop {
        let page = state
            .db
            .run(move |conn| intents::made_since(conn, since, after, PAGE))
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        for intent in &page {
            for (position, tender) in intent.tenders.iter().enumerate() {
                let Some(reference) = tender.psp_reference().filter(|_| tender.kind == TenderKind::Card)
                else {
                    continue;
                };
                let key = TenderKey {
                    intent: intent.id,
                    tender: u32::try_from(position).unwrap_or(u32::MAX),
                };
                let money = state.db.run(move |conn| tender_ledger::money(conn, key)).await?;
                let psp = state.psp.lookup(reference).await?;
                let after = state.db.run(move |conn| tender_ledger::money(conn, key)).await?;
                report.tenders += 1;
                let Some(difference) = compare(&money, psp, &after) else {
                    continue;
                };
                let (ledger, psp) = match difference {
                    Difference::UnknownToThePsp => (crate::domain::reconcile::settled(&money), None),
                    Difference::Buckets { ledger, psp } => (ledger, Some(psp)),
                };
                tracing::warn!(
                    order.id = %intent.order_id, payment_intent.id = %intent.id, tender = position,
                    psp_reference = reference, ledger = ?ledger, psp = ?psp,
                    "A tender's buckets differ from the PSP's record."
                );
                report.differences.push(PaymentReconcileDifference {
                    order_id: intent.order_id,
                    payment_intent_id: intent.id,
                    tender: key.tender,
                    psp_reference: reference.to_owned(),
                    ledger: buckets(ledger),
                    psp: psp.map(buckets),
                });
            }
        }
    }
    if !report.differences.is_empty() {
        let found = report.differences.clone();
        state
            .db
            .transaction(move |conn| -> Result<()> {
                for difference in found {
                    let event = PaymentEvent::ReconcileDifference(difference);
                    omni_kafka::outbox::enqueue(conn, &Envelope::new("payments", event))?;
                }
                Ok(())
            })
            .await?;
        state.relay.notify_one();
    }
    Ok(report)
}

fn buckets(record: PspRecord) -> TenderBuckets {
    TenderBuckets {
        authorized: record.authorized,
        captured: record.captured,
        refunded: record.refunded,
        voided: record.voided,
    }
}
