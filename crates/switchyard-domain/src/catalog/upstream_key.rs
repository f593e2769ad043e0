//! A supplier's upstream keys: the pool the gateway spreads calls over. The key itself is
//! write-only (encrypted at rest, shown by its last four characters); its status is the
//! operator's (`active`, `inactive`) or its health's (`error`, with the reason), and `removed`
//! once deleted (the row stays for the call logs that name it).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::ids::SupplierId;
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::text::length;

named_enum!(
    /// Whether a key is in rotation.
    KeyStatus, "status", "invalid_value" {
        Active => "active",
        /// Taken out by an operator.
        Inactive => "inactive",
        /// Taken out by its health (the supplier refused it); `status_reason` says why.
        Error => "error",
        Removed => "removed",
    }
);

/// The name of the supplier's own key (the one set with the supplier, `api_key`): reserved, so
/// a change of the supplier's key replaces that one only, never a pool key an operator named so.
pub const SUPPLIER_KEY_NAME: &str = "default";

/// The most a key's weight may be.
pub const MAX_WEIGHT: i32 = 1000;

/// A key as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamKeyRecord {
    pub id: Uuid,
    pub supplier_id: SupplierId,
    pub name: String,
    pub last4: String,
    pub status: KeyStatus,
    pub status_reason: Option<String>,
    pub weight: i32,
    pub usage_count: i64,
    pub last_used_at: Option<DateTime<Utc>>,
    pub cooldown_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The writable fields of a key, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct KeyInput {
    pub name: String,
    pub weight: Option<i32>,
    /// `active` or `inactive` (an operator puts an `error` key back with `active`).
    pub status: Option<String>,
}

/// The writable fields of a key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub name: String,
    pub weight: i32,
    pub status: KeyStatus,
}

impl KeySpec {
    /// A new key's fields.
    pub fn parse(input: KeyInput) -> Result<Self, DomainError> {
        Self::parse_for(input, None)
    }

    /// The fields of a key now named `current` (the supplier's own key keeps its name).
    pub fn parse_for(input: KeyInput, current: Option<&str>) -> Result<Self, DomainError> {
        let name = input.name.trim().to_owned();
        length("name", &name, 1, 100)?;
        if current == Some(SUPPLIER_KEY_NAME) && name != SUPPLIER_KEY_NAME {
            return Err(DomainError::validation(
                "name",
                "reserved",
                "this is the supplier's own key (set with the supplier's api_key): its name stays \"default\"",
            ));
        }
        if name.eq_ignore_ascii_case(SUPPLIER_KEY_NAME) && current != Some(SUPPLIER_KEY_NAME) {
            return Err(DomainError::validation(
                "name",
                "reserved",
                "\"default\" is the supplier's own key (set with the supplier's api_key); choose another name",
            ));
        }
        let weight = input.weight.unwrap_or(1);
        if !(1..=MAX_WEIGHT).contains(&weight) {
            return Err(DomainError::validation(
                "weight",
                "out_of_range",
                format!("must be 1 to {MAX_WEIGHT}"),
            ));
        }
        let status = match input.status.as_deref() {
            None => KeyStatus::Active,
            Some(raw) => match KeyStatus::parse(raw)? {
                status @ (KeyStatus::Active | KeyStatus::Inactive) => status,
                _ => {
                    return Err(DomainError::validation(
                        "status",
                        "invalid_value",
                        "must be active or inactive (error is set by the key's health, removed by DELETE)",
                    ));
                }
            },
        };
        Ok(Self { name, weight, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_has_a_name_a_weight_in_range_and_an_operators_status() {
        let spec = KeySpec::parse(KeyInput {
            name: " primary ".into(),
            ..KeyInput::default()
        })
        .expect("a spec");
        assert_eq!(
            (spec.name.as_str(), spec.weight, spec.status),
            ("primary", 1, KeyStatus::Active)
        );
        for name in ["default", "Default"] {
            let input = KeyInput {
                name: name.into(),
                ..KeyInput::default()
            };
            assert!(KeySpec::parse(input).is_err(), "{name} is reserved");
        }
        let keeps = KeyInput {
            name: "default".into(),
            weight: Some(3),
            ..KeyInput::default()
        };
        assert_eq!(
            KeySpec::parse_for(keeps, Some("default")).map(|spec| spec.weight),
            Ok(3),
            "the supplier's own key keeps its name"
        );
        for renamed in ["primary", "DEFAULT"] {
            let input = KeyInput {
                name: renamed.into(),
                ..KeyInput::default()
            };
            assert!(
                KeySpec::parse_for(input, Some("default")).is_err(),
                "the supplier's own key renamed {renamed}"
            );
        }
        for (weight, status) in [
            (Some(0), None),
            (Some(1001), None),
            (None, Some("error")),
            (None, Some("removed")),
        ] {
            let input = KeyInput {
                name: "k".into(),
                weight,
                status: status.map(str::to_owned),
            };
            assert!(KeySpec::parse(input).is_err(), "{weight:?} {status:?}");
        }
    }
}
