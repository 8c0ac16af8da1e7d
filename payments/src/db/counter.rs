//! The store of the counter's console pages: an intent by id as the counter sees it, a
//! drawer's receipt count, and the receipt prints (original, then copies).

use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::error::AppError;
use crate::app::quotes::QuoteLine;
use crate::app::states::IntentStatus;
use crate::db::cashier::CounterIntent;

/// One intent of `offices` (`None`: all) by id, as the counter's take-payment page shows it.
pub async fn counter_intent(
    conn: &mut PgConnection,
    offices: Option<&[String]>,
    id: Uuid,
) -> Result<Option<CounterIntent>, AppError> {
    // language=PostgreSQL
    let row = sqlx::query_as!(
        CounterIntent,
        r#"select i.id, i.status as "status: IntentStatus", i.office_code, i.case_reference,
               i.payer ->> 'name' as payer_name, i.currency as "currency!", i.total_minor, i.receipt_number,
               i.created_at, i.expires_at, q.lines as "lines!: Json<Vec<QuoteLine>>"
           from payment_intents i join quotes q on q.id = i.quote_id
           where i.id = $1 and ($2::text[] is null or i.office_code = any($2))"#,
        id,
        offices,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// How many receipts of a drawer still stand (voided ones are not counted).
pub async fn standing_receipts(conn: &mut PgConnection, session_id: Uuid) -> Result<i64, AppError> {
    // language=PostgreSQL
    let count = sqlx::query_scalar!(
        r#"select count(*) as "count!" from cash_receipts where session_id = $1 and voided_at is null"#,
        session_id
    )
    .fetch_one(conn)
    .await?;
    Ok(count)
}

/// Counts one print of receipt `number` and answers which print it is (1: the original). One
/// statement: the primary key serialises two first prints, so exactly one of them sees 1.
pub async fn record_print(
    conn: &mut PgConnection,
    number: &str,
    office_code: &str,
    user_id: Option<Uuid>,
) -> Result<i32, AppError> {
    // language=PostgreSQL
    let count = sqlx::query_scalar!(
        "insert into receipt_prints (receipt_number, office_code, print_count, first_printed_by_user_id)
         values ($1, $2, 1, $3)
         on conflict (receipt_number) do update
             set print_count = receipt_prints.print_count + 1, last_printed_at = now()
         returning print_count",
        number,
        office_code,
        user_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(count)
}
