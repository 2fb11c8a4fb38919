use diesel::prelude::*;
use omni_contracts::Sku;
use omni_contracts::api::SkuRecord;
use omni_db::DbConnection;

use super::Upsert;
use super::schema::skus;

#[derive(Queryable, Selectable)]
#[diesel(table_name = skus)]
struct SkuRow {
    sku: String,
    title: String,
    tags: String,
    reorder_point: Option<i64>,
    price_minor: Option<i64>,
    price_currency: Option<String>,
}

impl SkuRow {
    fn into_record(self) -> Option<SkuRecord> {
        Some(SkuRecord {
            sku: Sku::parse(&self.sku).ok()?,
            title: self.title,
            tags: serde_json::from_str(&self.tags).ok()?,
            reorder_point: self.reorder_point.and_then(|r| u32::try_from(r).ok()),
            price: match (self.price_minor, self.price_currency) {
                (Some(amount_minor), Some(currency)) => Some(omni_contracts::Money {
                    amount_minor,
                    currency: omni_contracts::Currency::parse(&currency).ok()?,
                }),
                _ => None,
            },
        })
    }
}

/// One SKU.
pub fn find(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Option<SkuRecord>> {
    let row = skus::table
        .find(sku.as_str())
        .select(SkuRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.and_then(SkuRow::into_record))
}

/// Inserts or updates a SKU.
pub fn upsert(conn: &mut DbConnection, record: &SkuRecord) -> omni_db::Result<Upsert> {
    let now = omni_db::now();
    let tags = serde_json::to_string(&record.tags).unwrap_or_else(|_| "[]".into());
    match find(conn, &record.sku)? {
        Some(current) if current == *record => Ok(Upsert::Unchanged),
        Some(_) => {
            diesel::update(skus::table.find(record.sku.as_str()))
                .set((
                    skus::title.eq(&record.title),
                    skus::tags.eq(tags),
                    skus::reorder_point.eq(record.reorder_point.map(i64::from)),
                    skus::price_minor.eq(record.price.map(|p| p.amount_minor)),
                    skus::price_currency.eq(record.price.map(|p| p.currency.as_str().to_owned())),
                    skus::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Upsert::Updated)
        }
        None => {
            diesel::insert_into(skus::table)
                .values((
                    skus::sku.eq(record.sku.as_str()),
                    skus::title.eq(&record.title),
                    skus::tags.eq(tags),
                    skus::reorder_point.eq(record.reorder_point.map(i64::from)),
                    skus::price_minor.eq(record.price.map(|p| p.amount_minor)),
                    skus::price_currency.eq(record.price.map(|p| p.currency.as_str().to_owned())),
                    skus::created_at.eq(now),
                    skus::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Upsert::Created)
        }
    }
}

/// A page of SKUs.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> omni_db::Result<Vec<SkuRecord>> {
    let rows = skus::table
        .order(skus::sku.asc())
        .limit(limit)
        .offset(offset)
        .select(SkuRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().filter_map(SkuRow::into_record).collect())
}
