//! Keyset pagination on `(created_at, id)`, newest first.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, IntoColumnRef};
use sea_orm::{ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select};
use switchyard_domain::kernel::page::PageRequest;
use uuid::Uuid;

/// Orders by `(created_at, id)` descending, starts after the cursor, and reads one row more
/// than the limit (the extra row tells that another page exists).
pub(crate) fn paginate<E, C>(select: Select<E>, created_at: C, id: C, page: PageRequest) -> Select<E>
where
    E: EntityTrait,
    C: ColumnTrait + IntoColumnRef + Copy,
{
    let mut select = select.order_by(created_at, Order::Desc).order_by(id, Order::Desc);
    if let Some(after) = page.after {
        let at: DateTime<Utc> = after.created_at;
        let after_id: Uuid = after.id;
        select = select.filter(
            Condition::any()
                .add(created_at.lt(at))
                .add(Condition::all().add(created_at.eq(at)).add(id.lt(after_id))),
        );
    }
    select.limit(page.limit + 1)
}

/// [`paginate`] in either direction: ascending starts after the cursor going up.
pub(crate) fn paginate_towards<E, C>(
    select: Select<E>,
    created_at: C,
    id: C,
    page: PageRequest,
    ascending: bool,
) -> Select<E>
where
    E: EntityTrait,
    C: ColumnTrait + IntoColumnRef + Copy,
{
    if !ascending {
        return paginate(select, created_at, id, page);
    }
    let mut select = select.order_by(created_at, Order::Asc).order_by(id, Order::Asc);
    if let Some(after) = page.after {
        let at: DateTime<Utc> = after.created_at;
        let after_id: Uuid = after.id;
        select = select.filter(
            Condition::any()
                .add(created_at.gt(at))
                .add(Condition::all().add(created_at.eq(at)).add(id.gt(after_id))),
        );
    }
    select.limit(page.limit + 1)
}

/// Escapes `%`, `_` and the escape character for a LIKE pattern.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
