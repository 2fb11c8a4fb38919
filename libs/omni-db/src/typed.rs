//! Reading typed values straight out of rows: a row struct's field can be a contract newtype or a status enum
//! (anything `TryFrom<String>`) with `#[diesel(deserialize_as = String)]`, or an optional one with
//! `#[diesel(deserialize_as = omni_db::typed::OptionalText)]`. A stored value that does not parse fails the read,
//! so it never travels on as text.

use diesel::backend::Backend;
use diesel::deserialize::{FromStaticSqlRow, Queryable};
use diesel::sql_types::{Nullable, Text};

/// A nullable text column as read, before it is parsed into an `Option` of a typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalText(pub Option<String>);

impl<DB: Backend> Queryable<Nullable<Text>, DB> for OptionalText
where
    Option<String>: FromStaticSqlRow<Nullable<Text>, DB>,
{
    type Row = Option<String>;

    fn build(row: Option<String>) -> diesel::deserialize::Result<Self> {
        Ok(OptionalText(row))
    }
}

impl<T> TryFrom<OptionalText> for Option<T>
where
    T: TryFrom<String>,
    T::Error: std::error::Error + Send + Sync + 'static,
{
    type Error = T::Error;

    fn try_from(text: OptionalText) -> Result<Self, T::Error> {
        text.0.map(T::try_from).transpose()
    }
}

/// Parses values read as text (ids, codes) into `T`; a value that does not parse makes the whole read
/// [`crate::Error::Inconsistent`], naming `what` was read.
pub fn parse_all<T>(values: Vec<String>, what: &str) -> crate::Result<Vec<T>>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    values
        .into_iter()
        .map(|value| T::try_from(value).map_err(|e| crate::Error::Inconsistent(format!("{what}: {e}"))))
        .collect()
}
