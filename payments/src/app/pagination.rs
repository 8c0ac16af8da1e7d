//! What every list and every idempotent create share: the `{"data", "next_cursor"}` page, its
//! opaque cursors, the `limit`/`cursor` query, and the created-or-replayed result.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::error::AppError;

/// The result of an idempotent create: the new object, or the stored response to replay.
pub enum Created<T> {
    New(T),
    Replayed { status: u16, body: Value },
}

/// One page of a list (API.md, "Lists").
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The query of a list that has no filter of its own.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Rows per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl<T> Page<T> {
    /// Cuts one page from a whole list already in its order, where `key` names each row
    /// uniquely; the cursor is the key of the last row kept. For the short lists (catalog,
    /// accounts, periods, webhook endpoints) that are read whole anyway; long lists page in SQL
    /// with [`cursor::paginate`].
    pub fn cut(
        rows: Vec<T>,
        limit: Option<i64>,
        after: Option<&str>,
        key: impl Fn(&T) -> String,
    ) -> Result<Page<T>, AppError> {
        let limit = usize::try_from(cursor::limit(limit)?).unwrap_or(usize::MAX);
        let start = match after {
            None => 0,
            Some(raw) => {
                let after = cursor::decode_key(raw)?;
                rows.iter()
                    .position(|row| key(row) == after)
                    .map(|index| index + 1)
                    .ok_or_else(cursor::invalid)?
            }
        };
        let more = rows.len() > start.saturating_add(limit);
        let data: Vec<T> = rows.into_iter().skip(start).take(limit).collect();
        let next_cursor = if more {
            data.last().map(|row| cursor::encode_key(&key(row)))
        } else {
            None
        };
        Ok(Page { data, next_cursor })
    }
}

/// Opaque list cursors, base64url: the (created_at, id) of the last row of a list paged in
/// SQL, or the key of the last row of a list cut in memory.
pub mod cursor {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use crate::app::error::AppError;

    /// Marks a key cursor, so neither kind of cursor decodes as the other.
    const KEY_PREFIX: &str = "k|";

    pub(super) fn invalid() -> AppError {
        AppError::validation("cursor", "cursor is not one this API returned")
    }

    pub fn encode(created_at: DateTime<Utc>, id: Uuid) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{id}", created_at.timestamp_micros()))
    }

    pub fn decode(raw: &str) -> Result<(DateTime<Utc>, Uuid), AppError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = DateTime::<Utc>::from_timestamp_micros(micros)
            .filter(|at| crate::app::dates::timestamp_in_range(*at))
            .ok_or_else(invalid)?;
        Ok((created_at, id.parse().map_err(|_| invalid())?))
    }

    pub fn encode_key(key: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{KEY_PREFIX}{key}"))
    }

    pub fn decode_key(raw: &str) -> Result<String, AppError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        text.strip_prefix(KEY_PREFIX)
            .map(str::to_owned)
            .ok_or_else(invalid)
    }

    /// Cuts a page from rows fetched with `limit + 1`: the extra row only says that more
    /// exist, and the cursor points after the last row kept.
    pub fn paginate<T>(
        mut rows: Vec<T>,
        limit: i64,
        key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    ) -> super::Page<T> {
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > keep;
        rows.truncate(keep);
        let next_cursor = if more {
            rows.last().map(|row| {
                let (created_at, id) = key(row);
                encode(created_at, id)
            })
        } else {
            None
        };
        super::Page {
            data: rows,
            next_cursor,
        }
    }

    /// `limit` defaults to 50 and may not exceed 500 (API.md, "Lists").
    pub fn limit(raw: Option<i64>) -> Result<i64, AppError> {
        match raw {
            None => Ok(50),
            Some(limit) if (1..=500).contains(&limit) => Ok(limit),
            Some(_) => Err(AppError::validation(
                "limit",
                "limit must be between 1 and 500",
            )),
        }
    }
}
